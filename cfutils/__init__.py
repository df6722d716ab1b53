"""cfutils: collaborative filtering on the Netflix Prize data.

One module per stage of the data flow (see README.md)::

    io -> split -> matrix -> stats -> similarity -> features -> models
       -> metrics -> recommend -> record -> pipeline
"""

__version__ = "0.1.0"
