"""The lake's domain core: DIDs, replicas, metadata, ObsCore characterisation and sky coverage."""
