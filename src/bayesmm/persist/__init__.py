"""Saving models as data: plain values and import paths to JSON, and the netCDF file layout.

The package's own ``__init__`` imports nothing, so that records low in the layers (priors,
links, families) can use :mod:`bayesmm.persist.values` and :mod:`bayesmm.persist.importpath`
without loading the file layout (:mod:`bayesmm.persist.netcdf`), which sits above prediction.
"""
