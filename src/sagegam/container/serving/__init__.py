"""The ``serve`` entry point: SageMaker's hosting contract over HTTP.

``codecs`` decodes and encodes bodies, ``core`` answers requests as plain functions,
``app`` adapts them to ASGI, and ``server`` runs the app under uvicorn's workers.
"""

# What the image and the local runtime start `serve` with (GLIBC_TUNABLES): malloc asks for
# transparent huge pages for its large blocks (glibc 2.35+, when the kernel's THP mode is
# "madvise", as most distributions ship it). Every large body, and what is decoded from it,
# lands in memory the process has not touched before, which the kernel maps 4 KB at a
# time: on the 2-core VM joining an 80 MB body from its chunks took 56 ms that way and 12
# ms with 2 MB pages, and a 1M-row npy transform job 1.59 s against 1.40 s (medians of 8,
# alternating). numpy already asks for them for its own arrays; bytes come from malloc.
# An idle worker grew by 1-2 MB. glibc reads it as a process starts, and the workers are
# forked, so it must be in the environment `serve` starts with.
MALLOC_TUNABLES = "glibc.malloc.hugetlb=1"
