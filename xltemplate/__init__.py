"""xltemplate: a form defined once as data -> locked, validated Excel templates -> filled copies checked."""

__version__ = "0.1.0"
