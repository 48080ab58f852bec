"""Extract -> data dir: OSM reading, road graphs per mode, routing hierarchy, address index."""
