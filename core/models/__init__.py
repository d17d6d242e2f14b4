"""The only place a model runs: loading, the model interface, its declared hook points, devices."""
