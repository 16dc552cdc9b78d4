"""The OpenAPI document is generated from the route declarations and the schemas: every
/api/v1 route is in it, and its input and output schemas are the schemas' own fields."""
from __future__ import annotations

import re

from tracker.api.openapi import document, openapi_path


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield openapi_path(rule.rule[len("/api/v1"):]), method.lower()


def test_every_api_route_is_documented(app):
    paths = document()["paths"]
    missing = [(path, method) for path, method in _api_rules(app) if method not in paths.get(path, {})]
    assert missing == []


def test_a_route_missing_from_the_document_is_seen(app):
    """The check above can fail: a route registered without its declaration is reported."""
    rules = list(_api_rules(app)) + [("/projects/{project_id}/secret", "get")]
    paths = document()["paths"]
    assert [(p, m) for p, m in rules if m not in paths.get(p, {})] == [("/projects/{project_id}/secret", "get")]


def test_inputs_are_the_schemas_fields_in_api_names():
    from tracker.projects.schemas import API_NAMES, API_NESTED, ProjectCreate

    create = document()["components"]["schemas"]["ProjectCreate"]
    nested = {flat for names in API_NESTED.values() for flat in names.values()}
    expected = {API_NAMES.get(f, f) for f in ProjectCreate.model_fields if f not in nested} | set(API_NESTED)
    assert set(create["properties"]) == expected
    assert set(create["properties"]["investor"]["properties"]) == set(API_NESTED["investor"])
    assert create["additionalProperties"] is False


def test_stage_request_input_comes_from_the_stage_table():
    from tracker.workflow import stages

    props = document()["components"]["schemas"]["StageRequestCreate"]["properties"]
    assert set(stages.requirement_kinds()) <= set(props)
    assert props["to_stage"]["enum"][:-1] == list(stages.CODES)


def test_document_refs_resolve():
    doc = document()
    text = str(doc)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in doc["components"]["schemas"], name
    for name in set(re.findall(r"#/components/responses/(\w+)", text)):
        assert name in doc["components"]["responses"], name
