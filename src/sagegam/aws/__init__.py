"""SageMaker on AWS through boto3 (the optional ``sagegam[aws]`` extra), imported lazily.

``session`` makes clients (honouring an endpoint override, e.g. an emulator),
``preflight`` says what is missing before anything is billed, ``registry`` pushes the
image to ECR, ``jobs`` trains, ``hosting`` deploys, invokes, transforms and deletes.
"""
