# sagegam's one image: `IMAGE train` runs a SageMaker training job, `IMAGE serve` an
# endpoint or a batch transform. Build it with `sagegam image build` or:
#   docker build -t sagegam .
# BASE_IMAGE: any Debian-like image with python3 (>= 3.10) and its venv module, e.g. the
# official python:3.11-slim (default) or AWS's scikit-learn image.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# Extra pip options, e.g. "--no-index --find-links /wheels" with wheels built beforehand
# into docker/wheels/ (what `sagegam image build --offline` does): no network in the build.
ARG PIP_OPTIONS=""
# Optional extras: "plot" adds matplotlib (about 90 MB) for the training job's PNG beside its
# HTML report; "parquet" adds Parquet input (pyarrow, about 120 MB). "cluster" (Dask's
# distributed scheduler, about 10 MB) is always in: training on several hosts needs it.
ARG EXTRAS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
COPY docker/wheels/ /wheels/
COPY pyproject.toml README.md /src/
COPY src/ /src/src/
# Bytecode is kept for what `serve` imports (numpy, uvicorn, sagegam: workers start fast) and
# dropped for what only the training job imports (scipy, scikit-learn, pandas, Dask): 42 MB
# less, for about 2 s of compiling at the start of a job.
RUN /opt/venv/bin/pip install ${PIP_OPTIONS} "/src[cluster${EXTRAS:+,$EXTRAS}]" \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools wheel \
 && find /opt/venv -depth -type d \( -name tests -o -name test -o -name include \) \
      -path "*site-packages/*" -exec rm -rf {} + \
 && find /opt/venv -name "*.pyx" -delete -o -name "*.pxd" -delete -o -name "*.pyi" -delete \
 && rm -rf /wheels \
 && for package in scipy sklearn pandas dask distributed; do \
      find /opt/venv/lib/python3*/site-packages/$package -name __pycache__ -type d -prune \
        -exec rm -rf {} +; done

# The runtime's files: the base without what only a package manager or a reader of manuals
# uses (apt's lists and caches, docs, man pages, translations, the standard library's GUI,
# 2to3 and venv bootstrap), and the venv. SageMaker
# mounts /opt/ml; creating it world-writable lets serverless endpoints, which do not run as
# root, write where the contract says.
FROM ${BASE_IMAGE} AS runtime
COPY --from=build /opt/venv /opt/venv
RUN rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old \
      /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
      /usr/share/python-wheels /usr/lib/python3*/ensurepip /usr/local/lib/python3*/ensurepip \
 && for module in idlelib tkinter turtledemo lib2to3 pydoc_data; do \
      rm -rf /usr/lib/python3*/$module /usr/local/lib/python3*/$module; done \
 && mkdir -p /opt/ml/model /opt/ml/input /opt/ml/output /tmp/matplotlib \
 && chmod -R o+rwX /opt/ml /tmp/matplotlib

# One layer: files deleted above would otherwise still ship in the base's layers. The base's
# environment is not carried over, so the variables a Python runtime needs are set here;
# GLIBC_TUNABLES lets malloc use huge pages for large bodies (see MALLOC_TUNABLES in
# src/sagegam/container/serving/__init__.py).
FROM scratch
COPY --from=runtime / /
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      com.amazonaws.sagemaker.capabilities.multi-models=true \
      org.opencontainers.image.title="sagegam" \
      org.opencontainers.image.description="GAM training and serving under SageMaker's container contract"
EXPOSE 8080
ENTRYPOINT ["/opt/venv/bin/python3", "-m", "sagegam.container.entrypoint"]
