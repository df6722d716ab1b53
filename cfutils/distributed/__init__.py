"""The same analysis on Apache Spark (``make spark``): :mod:`~cfutils.distributed.spark`.

Imports data and the layers below.
"""
