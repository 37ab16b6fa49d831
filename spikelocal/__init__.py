"""spikelocal: rate and spiking networks that learn with three-factor local rules."""
__version__ = "0.1.0"
