"""The framework's serving order, per request, for the entry module named on the command
line: ``model_fn`` once, then ``input_fn(content, content_type)``, ``predict_fn(data,
model)``, ``output_fn(prediction, accept)``. The content arrives as text for the UTF-8
types (CSV, JSON) and as bytes otherwise, a missing or ``*/*`` Accept becomes the default
accept, as the framework's request object does.

``python framework_serving.py CODE_DIR MODULE MODEL_DIR CASES.json`` prints one JSON
result per case.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
from pathlib import Path

UTF8_TYPES = ("application/json", "text/csv")


def request(case: dict) -> tuple[object, str, str]:
    body = base64.b64decode(case["body"])
    content_type = case.get("content_type") or "application/json"
    content = body.decode("utf-8") if content_type in UTF8_TYPES else body
    accept = case.get("accept")
    if not accept or accept == "*/*":
        accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    return content, content_type, accept


def main() -> None:
    code_dir, module_name, model_dir, cases = sys.argv[1:5]
    sys.path.insert(0, code_dir)
    module = importlib.import_module(module_name)
    model = module.model_fn(model_dir)
    from sagegam.container.script_mode import RequestRefusedError

    results = []
    for case in json.loads(Path(cases).read_text()):
        content, content_type, accept = request(case)
        data = module.input_fn(content, content_type)
        prediction = module.predict_fn(data, model)
        try:
            body, media = module.output_fn(prediction, accept)
            results.append({"status": 200, "content_type": media,
                            "body": base64.b64encode(body).decode()})
        except RequestRefusedError as refused:
            results.append({"status": refused.error.status, "message": refused.error.message})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
