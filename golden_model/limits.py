"""Size limits of the files mulfree reads (QNet files and float model files).

A file is checked against these before anything it declares is allocated,
decompressed or parsed further, so a small hostile file cannot ask for
gigabytes, recurse without end or spend minutes converting one number. They
sit far above anything an FPGA of the supported families can hold (the largest
supported ECP5 has under 4 Mbit of block RAM, i.e. under 2 million ternary
weights).
"""

#: Largest file read at all, in bytes (weights are stored uncompressed).
MAX_FILE_BYTES = 1 << 28
#: Largest JSON header, in bytes of UTF-8 (or of UCS-4 for a float model's header).
MAX_HEADER_BYTES = 1 << 22
#: Deepest nesting of JSON arrays and objects in a header.
MAX_JSON_DEPTH = 32
#: Most decimal digits of one JSON integer (2**128 has 39).
MAX_JSON_INT_DIGITS = 40
#: Longest string from a header that is kept as a name (dataset names).
MAX_NAME_CHARS = 256
#: Most layers of one network.
MAX_LAYERS = 256
#: Most inputs of a network (pixels per image).
MAX_INPUTS = 1 << 24
#: Most units (neurons, classes) of one layer.
MAX_UNITS = 1 << 20
#: Most weights of a whole network.
MAX_WEIGHTS = 1 << 24
#: Most dimensions of an image shape.
MAX_IMAGE_DIMS = 8
