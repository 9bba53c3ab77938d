"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.frequency_sketch import FrequencySketch as FrequencySketch

__all__ = ("FrequencySketch",)
