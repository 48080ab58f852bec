"""The OpenAPI 3.1 description of the API, generated from the code's declarations (no Flask here)."""

from lds.openapi.document import Route, document, openapi_path, undeclared

__all__ = ["Route", "document", "openapi_path", "undeclared"]
