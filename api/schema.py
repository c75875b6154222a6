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
    "503": "The database is unavailable for a moment; nothing was written. "
    "Retry after `Retry-After` seconds.",
}

OBJECT_ACTIONS = {"retrieve", "create", "update", "partial_update"}


class PortfolioAutoSchema(AutoSchema):
    def _error_codes(self) -> list[str]:
        method = self.method.upper()
        codes = ["400", "401", "403", "404", "429", "503"]
        if method in ("POST", "PUT", "PATCH"):
            codes += ["409", "413", "415"]
        if method in ("POST", "PUT", "PATCH", "DELETE") and self._is_object_write():
            codes += ["409", "412"]
        return sorted(set(codes))

    def _is_list(self) -> bool:
        return getattr(self.view, "action", None) == "list" and self.method.upper() == "GET"

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
        if self._is_list():
            parameters += [
                OpenApiParameter(
                    "If-None-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="The list's ETag you hold: `304 Not Modified` while this page, with these "
                    "parameters, would show the same (only the sync cursor `next_sync` may have moved).",
                ),
                OpenApiParameter(
                    "ETag",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=["200"],
                    description="A weak ETag, a digest of what this page shows; send it in If-None-Match.",
                ),
            ]
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
        if getattr(self.view, "action", None) == "retrieve" or self._is_list():
            responses["304"] = {
                "description": "Not modified: the ETag in If-None-Match is current. No body.",
                "headers": {"ETag": {"schema": {"type": "string"}}},
            }
        for code in self._error_codes():
            if code in responses:
                continue
            response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            response["description"] = ERROR_DESCRIPTIONS[code]
            if code in ("429", "503"):
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


def nullable_references_strict(result, generator, request, public):
    """Postprocessing hook: a nullable reference (`allOf: [$ref], nullable: true`, as drf-spectacular
    writes `current_score`) that strict OpenAPI 3.0 validators accept.

    OpenAPI 3.0.3 says `nullable` applies only beside a `type`, so a null fails the referenced object
    schema inside `allOf`, and strict validators (openapi-core) reject the real `"current_score":
    null`. The referenced component becomes nullable itself, so "an object of this shape, or null"
    holds for every validator and generated clients still see one named type. That is right only
    while every use of the component is nullable; a component used both ways stops the schema with
    an error naming it (give the nullable use a serializer of its own).
    """
    schemas = result.get("components", {}).get("schemas", {})
    nullable_uses, all_uses = {}, {}

    def visit(node, nullable_context=False):
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/components/schemas/"):
                name = reference.rsplit("/", 1)[1]
                all_uses[name] = all_uses.get(name, 0) + 1
                nullable_uses[name] = nullable_uses.get(name, 0) + nullable_context
            wraps_one = node.get("nullable") and len(node.get("allOf", [])) == 1
            for key, value in node.items():
                visit(value, nullable_context=bool(wraps_one and key == "allOf"))
        elif isinstance(node, list):
            for item in node:
                visit(item, nullable_context)

    visit(result)
    for name, count in nullable_uses.items():
        if not count:
            continue
        if count != all_uses[name]:
            raise ValueError(f"Schema component {name} is used both nullable and not nullable")
        schemas[name]["nullable"] = True
    return result
