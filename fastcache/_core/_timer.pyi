"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py._timer import Timer as Timer
from fastcache._py._timer import coarse_clock_slack as coarse_clock_slack
from fastcache._py._timer import coarse_monotonic as coarse_monotonic

__all__ = ("Timer", "coarse_monotonic", "coarse_clock_slack")
