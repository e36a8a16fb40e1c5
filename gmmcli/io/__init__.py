"""Tables in and out, atomic writes and the sealed model-file format: everything that touches files."""
