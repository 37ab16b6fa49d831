"""The package version, in a leaf module so that modules low in the layering can name it
without importing the package root (which imports the API and every stage)."""
__version__ = "0.1.0"
