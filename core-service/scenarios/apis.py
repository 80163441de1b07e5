"""Scenario endpoints under /api/v1/scenarios."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from gaji_contracts.novels import SLUG_MAX_CHARS, SLUG_PATTERN
from gaji_contracts.scenarios import ScenarioType
from gaji_contracts.timeline import MAX_TIMELINE_STEPS, TIMELINE_BRIEF_TOKENS
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.fields import typed_scenario_body
from common.pagination import PageInfo, PageQuerySerializer, PageRequest, page_serializer, paginate
from common.schema import errors
from common.serializers import SortField, StrictSerializer
from scenarios import reads, selectors, services
from scenarios.models import Scenario

TYPES = [t.value for t in ScenarioType]


class CreatorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    avatar_url = serializers.SerializerMethodField()

    def get_avatar_url(self, user) -> str | None:
        return user.avatar_url or None


class ParentRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    is_deleted = serializers.BooleanField()


class ScenarioSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    base_story = serializers.CharField()
    novel_id = serializers.UUIDField(allow_null=True)
    parent_scenario_id = serializers.UUIDField(source="parent_id", allow_null=True)
    parent = ParentRefSerializer(allow_null=True)
    scenario_type = serializers.ChoiceField(choices=TYPES)
    parameters = serializers.JSONField()
    quality_score = serializers.FloatField()
    creator_id = serializers.UUIDField()
    creator = CreatorSerializer()
    fork_count = serializers.IntegerField()
    conversation_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


ScenarioPageSerializer = page_serializer("ScenarioPage", ScenarioSerializer, estimated=True)


def scenario_json(scenario: Scenario) -> dict:
    return ScenarioSerializer(scenario).data


class ScenarioQuerySerializer(serializers.Serializer):
    base_story = serializers.RegexField(SLUG_PATTERN, max_length=SLUG_MAX_CHARS, required=False)
    scenario_type = serializers.ChoiceField(choices=TYPES, required=False)
    min_quality = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    creator_id = serializers.UUIDField(required=False)
    sort = SortField(selectors.SORT_FIELDS, default="created_at,desc")


LIST_PARAMS = [ScenarioQuerySerializer, PageQuerySerializer]


class ScenarioListCreateApi(APIView):
    class InputSerializer(StrictSerializer):
        base_story = serializers.CharField(max_length=100)
        scenario_type = serializers.CharField(max_length=50)
        parameters = serializers.JSONField()

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="scenarios_list",
        parameters=LIST_PARAMS,
        responses={200: ScenarioPageSerializer, **errors()},
        auth=[],
        description="Live scenarios with every given filter. `page.total_elements` is exact up to 1,000 "
        "(COUNT_EXACT_LIMIT); a larger total is counted once and shared for 30 s (COUNT_CACHE_SECONDS), "
        "and an answer that used the shared count says `page.total_is_estimate: true`.",
    )
    def get(self, request):
        query = ScenarioQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        sort_field, descending = data.pop("sort")
        filters = selectors.ScenarioFilters(**data, sort_field=sort_field, descending=descending)
        viewer = reads.viewer_of(request)
        own = viewer is not None and str(filters.creator_id or "") == str(viewer.id)
        body = reads.scenario_page(
            page=PageRequest.from_request(request),
            base_story=filters.base_story,
            scenario_type=filters.scenario_type,
            min_quality=filters.min_quality,
            creator_id=filters.creator_id,
            sort_field=filters.sort_field,
            descending=filters.descending,
            shared_only=not own,
        )
        return reads.json_response(body)

    @extend_schema(
        operation_id="scenarios_create",
        request=typed_scenario_body(base_story=True),
        responses={201: ScenarioSerializer, **errors(401, 422)},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scenario = services.scenario_create(creator=request.user, **data.validated_data)
        return reads.json_response(
            reads.scenario_by_id(scenario.id, request.user), status=status.HTTP_201_CREATED
        )


class ScenarioDetailApi(APIView):
    class UpdateSerializer(StrictSerializer):
        parameters = serializers.JSONField(required=False)
        base_story = serializers.CharField(max_length=100, required=False)
        scenario_type = serializers.CharField(max_length=50, required=False)

    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(operation_id="scenarios_get", responses={200: ScenarioSerializer, **errors(404)}, auth=[])
    def get(self, request, scenario_id):
        return reads.json_response(reads.scenario_by_id(scenario_id, reads.viewer_of(request)))

    @extend_schema(
        operation_id="scenarios_update",
        request=typed_scenario_body(base_story=False),
        responses={200: ScenarioSerializer, **errors(401, 403, 404, 409, 422)},
        description="Only `parameters` can change: `scenario_type` (and `base_story`, if sent) must be the "
        "scenario's own, or the answer is 409 `CONFLICT` (fork it instead). Sent without `scenario_type` "
        "(accepted too), the parameters must fit the scenario's type (422 `PARAMETERS_INVALID`).",
    )
    def put(self, request, scenario_id):
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scenario = selectors.scenario_get(scenario_id=scenario_id, viewer=request.user)
        services.scenario_update(scenario=scenario, user=request.user, data=data.validated_data)
        return reads.json_response(reads.scenario_by_id(scenario_id, request.user))

    @extend_schema(operation_id="scenarios_delete", responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, scenario_id):
        services.scenario_delete(
            scenario=selectors.scenario_get(scenario_id=scenario_id, viewer=request.user), user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScenarioForkApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        scenario_type = serializers.CharField(max_length=50, required=False)
        parameters = serializers.JSONField()

    @extend_schema(
        operation_id="scenarios_fork",
        request=typed_scenario_body(base_story=None),
        responses={201: ScenarioSerializer, **errors(401, 404, 422)},
        description="A fork of this scenario, of any type. Sent without `scenario_type` (accepted too), "
        "the fork has its parent's type and the parameters must fit it (422 `PARAMETERS_INVALID`).",
    )
    def post(self, request, scenario_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parent = selectors.scenario_get(scenario_id=scenario_id, viewer=request.user)
        fork = services.scenario_fork(parent=parent, creator=request.user, **data.validated_data)
        return reads.json_response(
            reads.scenario_by_id(fork.id, request.user), status=status.HTTP_201_CREATED
        )


class ForkParentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    base_story = serializers.CharField()
    scenario_type = serializers.CharField()


class ForksPageSerializer(serializers.Serializer):
    """The API spec's `{parent, forks, page}` (not the `{content, page}` of other lists)."""

    parent = ForkParentSerializer()
    forks = ScenarioSerializer(many=True)
    page = PageInfo()


class ScenarioForksApi(APIView):
    @extend_schema(
        operation_id="scenarios_forks",
        parameters=[PageQuerySerializer],
        responses={200: ForksPageSerializer, **errors(404)},
        auth=[],
        description="Direct forks of a scenario (newest first), with the parent's summary.",
    )
    def get(self, request, scenario_id):
        parent = selectors.scenario_get(scenario_id=scenario_id, viewer=request.user)
        body = paginate(selectors.forks_of(parent=parent), PageRequest.from_request(request), scenario_json)
        return Response(
            {"parent": ForkParentSerializer(parent).data, "forks": body["content"], "page": body["page"]}
        )


class ScenarioForkTreeApi(APIView):
    class QuerySerializer(serializers.Serializer):
        max_depth = serializers.IntegerField(min_value=1, max_value=50, default=10)

    @extend_schema(
        operation_id="scenarios_fork_tree",
        parameters=[QuerySerializer],
        responses={200: OpenApiTypes.OBJECT, **errors(404)},
        auth=[],
        description="Nested `children` below this scenario (one recursive query); `depth` counts edges "
        "below the root, `total_descendants` live scenarios. Deleted forks appear as "
        "`{id, is_deleted: true, children}` so their live forks stay reachable.",
    )
    def get(self, request, scenario_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        root = selectors.scenario_get(scenario_id=scenario_id, viewer=request.user)
        return Response(selectors.fork_tree(root=root, max_depth=query.validated_data["max_depth"]))


class ScenarioAncestorsApi(APIView):
    @extend_schema(
        operation_id="scenarios_ancestors",
        responses={
            200: inline_serializer(
                "ScenarioAncestors",
                {
                    "scenario_id": serializers.UUIDField(),
                    "path": serializers.ListField(child=serializers.DictField()),
                },
            ),
            **errors(404),
        },
        auth=[],
        description="The path from the root scenario down to this one (both included).",
    )
    def get(self, request, scenario_id):
        scenario = selectors.scenario_get(scenario_id=scenario_id, viewer=request.user)
        return Response({"scenario_id": scenario.id, "path": selectors.ancestors(scenario=scenario)})


class StepCreatorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class TimelineStepSerializer(serializers.Serializer):
    scenario_id = serializers.UUIDField()
    scenario_type = serializers.ChoiceField(choices=TYPES)
    summary = serializers.CharField(help_text="The change as the brief states it in full")
    parameters = serializers.JSONField()
    creator = StepCreatorSerializer()
    is_deleted = serializers.BooleanField(
        help_text="Deleted by its creator; it still shaped the forks below it, so it stays in the timeline"
    )
    position = serializers.IntegerField(help_text="1 for the root, the first change from the novel")


class TimelineSerializer(serializers.Serializer):
    scenario_id = serializers.UUIDField()
    total_steps = serializers.IntegerField(help_text="Changes from the novel to this scenario, both included")
    steps = TimelineStepSerializer(
        many=True,
        help_text=f"Oldest first: the root and the {MAX_TIMELINE_STEPS - 1} nearest changes at most",
    )
    condensed_steps = serializers.IntegerField(help_text="Changes the brief shortens to one line")
    counted_steps = serializers.IntegerField(help_text="Changes the brief only counts (very deep chains)")
    brief = serializers.CharField(help_text="The timeline exactly as the model is told it")
    brief_tokens = serializers.IntegerField(
        help_text="Estimated tokens of the brief (about 4 characters each)"
    )


class ScenarioTimelineApi(APIView):
    @extend_schema(
        operation_id="scenarios_timeline",
        responses={200: TimelineSerializer, **errors(404)},
        auth=[],
        description="Every change from the novel down to this scenario, oldest first, and the `brief` a "
        "conversation on it gives the model: each change in order, the oldest condensed to one line (and "
        f"on very deep chains counted only) so it fits {TIMELINE_BRIEF_TOKENS} tokens; the brief says how "
        "many were condensed. A deleted ancestor stays, marked `is_deleted`.",
    )
    def get(self, request, scenario_id):
        scenario = selectors.scenario_get(scenario_id=scenario_id, viewer=request.user)
        return Response(selectors.timeline(scenario_id=scenario.id).model_dump(mode="json"))
