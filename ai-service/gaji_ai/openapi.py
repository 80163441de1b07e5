"""`python -m gaji_ai.openapi`: print the OpenAPI document /openapi.json serves
(for the web app's generated types, deploy/scripts/api-types.sh)."""

from __future__ import annotations

import json
import sys

from gaji_ai.config import Settings
from gaji_ai.main import create_app


def document() -> dict:
    settings = Settings.model_validate({"embeddings": {"embeddings_preload": False}})
    return create_app(settings).openapi()


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=2)
    sys.stdout.write("\n")
