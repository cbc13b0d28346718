"""The AWS layer: ECR, S3 and SageMaker through boto3 (optional extra ``sagegam[aws]``).

Nothing here is imported by ``sagegam`` itself; the CLI imports these modules only when an
``aws`` command runs, so the package works without boto3 installed.
"""
