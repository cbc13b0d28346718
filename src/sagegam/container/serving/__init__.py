"""The ``serve`` entry point: SageMaker's hosting contract over HTTP.

``codecs`` decodes and encodes bodies, ``core`` answers requests as plain functions,
``app`` adapts them to ASGI, and ``server`` runs the app under uvicorn's workers.
"""
