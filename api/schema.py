"""OpenAPI generation that documents what the API really answers: the error responses of every
operation (one shared `Error` schema), `If-Match` on writes, `ETag` on object responses."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from api.errors import ErrorSerializer

ERROR_DESCRIPTIONS = {
    "400": "Bad input: field-level messages in `errors`.",
    "401": "No or invalid credentials (send `Authorization: Token <key>`).",
    "403": "Your role may not do this.",
    "404": "Absent, or outside what you may see.",
    "409": "Conflicts with existing data, e.g. a duplicate external_id.",
    "412": "If-Match no longer matches: the record changed since you read it. Nothing was written.",
    "413": "The body is over the size limit (named in `max_body_bytes`) or a bulk has over 1,000 records.",
    "415": "Send JSON (Content-Type: application/json).",
    "429": "Too many requests; retry after `Retry-After` seconds.",
}

OBJECT_ACTIONS = {"retrieve", "create", "update", "partial_update"}


class PortfolioAutoSchema(AutoSchema):
    def _error_codes(self) -> list[str]:
        method = self.method.upper()
        codes = ["400", "401", "403", "404", "429"]
        if method in ("POST", "PUT", "PATCH"):
            codes += ["409", "413", "415"]
        if method in ("POST", "PUT", "PATCH", "DELETE") and self._is_object_write():
            codes += ["409", "412"]
        return sorted(set(codes))

    def _is_object_write(self) -> bool:
        action = getattr(self.view, "action", None)
        return action in ("update", "partial_update", "destroy") or action in getattr(
            self.view, "if_match_actions", ()
        )

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_object_write():
            parameters.append(
                OpenApiParameter(
                    "If-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description='The ETag you read (e.g. `"3"`). A stale one answers 412 and writes nothing; '
                    "without it the write is accepted.",
                )
            )
        if "{id}" in self.path:
            # Any segment routes (a malformed id answers the JSON 404), but an id is a number.
            parameters.append(
                OpenApiParameter(
                    "id",
                    {"type": "integer", "minimum": 1},
                    OpenApiParameter.PATH,
                    description="The record's id.",
                )
            )
        if getattr(self.view, "action", None) == "retrieve":
            parameters.append(
                OpenApiParameter(
                    "If-None-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description='The ETag you hold (e.g. `"3"`): `304 Not Modified` while it is current.',
                )
            )
        if getattr(self.view, "action", None) in OBJECT_ACTIONS:
            parameters.append(
                OpenApiParameter(
                    "ETag",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=["200", "201"],
                    description="The record's version as a strong ETag; send it back in If-Match.",
                )
            )
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if getattr(self.view, "action", None) == "retrieve":
            responses["304"] = {
                "description": "Not modified: the ETag in If-None-Match is current. No body.",
                "headers": {"ETag": {"schema": {"type": "string"}}},
            }
        for code in self._error_codes():
            if code in responses:
                continue
            response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            response["description"] = ERROR_DESCRIPTIONS[code]
            if code == "429":
                response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
            if code == "401":
                response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
            if code == "412":
                response["headers"] = {"ETag": {"schema": {"type": "string"}}}
            responses[code] = response
        return responses


def responses_list_every_field(result, generator, request, public):
    """Postprocessing hook: in response bodies every field is always present (null when it has no
    value), so each is `required` — generated clients then type them as always there. Request
    bodies (`…Request`) and the error shape (whose extras depend on the error) are left as they are."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") or name == "Error" or "properties" not in schema:
            continue
        schema["required"] = list(schema["properties"])
    return result
