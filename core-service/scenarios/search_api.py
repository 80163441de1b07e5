"""GET /api/v1/scenarios/search: filters, full-text + trigram search, facets."""

from __future__ import annotations

import math

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from gaji_contracts.novels import SLUG_MAX_CHARS, SLUG_PATTERN
from gaji_contracts.scenarios import ScenarioType
from rest_framework import serializers
from rest_framework.views import APIView

from common.pagination import EstimatedPageInfo, PageQuerySerializer, PageRequest
from common.schema import errors
from common.serializers import SortField
from scenarios import search
from scenarios.apis import CreatorSerializer

TYPES = [t.value for t in ScenarioType]


class ScenarioSearchItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    base_story = serializers.CharField()
    scenario_type = serializers.ChoiceField(choices=TYPES)
    parameters = serializers.JSONField()
    quality_score = serializers.FloatField()
    fork_count = serializers.IntegerField()
    conversation_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    relevance_score = serializers.FloatField(allow_null=True)
    creator = CreatorSerializer()


class QueryBooleanField(serializers.BooleanField):
    """true/false (or 1/0, yes/no, ...); None when absent or empty, like every
    optional query parameter. A missing boolean in a query string would
    otherwise read as False, and DRF's allow_null would also take the text
    `null` for "absent": like any other text that is not a boolean, it is refused."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, default=None, **kwargs)

    def to_internal_value(self, data):
        if data in self.NULL_VALUES:
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class ScenarioSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        min_length=1, max_length=200, required=False, help_text="Search text (full text and trigram)"
    )
    base_story = serializers.RegexField(SLUG_PATTERN, max_length=SLUG_MAX_CHARS, required=False)
    scenario_type = serializers.ChoiceField(choices=TYPES, required=False)
    min_quality = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    creator_id = serializers.UUIDField(required=False)
    has_forks = QueryBooleanField()
    sort = SortField(search.SORT_FIELDS, default="relevance,desc")

    def validate_min_quality(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("A valid number is required.")
        return value


ScenarioSearchFacetsSerializer = inline_serializer(
    "ScenarioSearchFacets",
    {
        "scenario_types": inline_serializer(
            "ScenarioSearchTypeFacets", {t: serializers.IntegerField() for t in TYPES}
        ),
        "quality_ranges": inline_serializer(
            "ScenarioSearchQualityFacets",
            {label: serializers.IntegerField() for label in search.QUALITY_RANGES},
        ),
    },
)

ScenarioSearchPageSerializer = inline_serializer(
    "ScenarioSearchPage",
    {
        "content": ScenarioSearchItemSerializer(many=True),
        "page": EstimatedPageInfo(),
        "facets": ScenarioSearchFacetsSerializer,
        "matched_by": serializers.ChoiceField(choices=["full_text", "trigram"], allow_null=True),
        "corrected_query": serializers.CharField(
            allow_null=True,
            help_text="With matched_by trigram: the words searched instead of q (each unknown word of q "
            "replaced by the most similar word scenarios use)",
        ),
    },
)

SEARCH_PARAMS = [ScenarioSearchQuerySerializer, PageQuerySerializer]


class ScenarioSearchApi(APIView):
    @extend_schema(
        operation_id="scenarios_search",
        parameters=SEARCH_PARAMS,
        responses={200: ScenarioSearchPageSerializer, **errors()},
        auth=[],
        description="Live scenarios matching `q` and the filters. `q` is matched as full text; only when "
        "nothing matches are its words taken as typos: each word no scenario uses is replaced by the most "
        "similar word one does (pg_trgm similarity), the corrected words (all required) are searched, "
        "`matched_by` is `trigram` and `corrected_query` shows them. Relevance is the RUM index's rank: "
        "full-text scores lie in [0.5, 1], corrected-typo scores below 0.5; equally relevant scenarios "
        "come in the index's order. `relevance_score` is in [0, 1] with `q`, null without; sorting by "
        "relevance without `q` means newest first. `facets` and `page.total_elements` count the whole "
        "filtered result, not just this page: exactly up to 1,000 matches (COUNT_EXACT_LIMIT); a larger "
        "result is counted once and that count shared for 30 s (COUNT_CACHE_SECONDS), and an answer that "
        "used the shared count says `page.total_is_estimate: true` (scenarios created or deleted meanwhile "
        "are not in it). The same search (same parameters and page) asked again within 10 s "
        "(SEARCH_CACHE_SECONDS) is answered with the first answer, and then carries an `Age` header "
        "(seconds since it was computed) — except to a signed-in reader who wrote since (created, forked, "
        "changed or deleted a scenario, or created, forked, liked or deleted a conversation): their "
        "answer is computed again, so it holds their own writes.",
    )
    def get(self, request):
        query = ScenarioSearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = PageRequest.from_request(request)
        data = dict(query.validated_data)
        sort_field, descending = data.pop("sort")
        # Signed in (DRF's path; the anonymous fast path has no user): the reader's own
        # writes are in their next answer (search.reader_wrote).
        user = getattr(request, "user", None)
        reader_id = user.id if user is not None and user.is_authenticated else None
        # Scenarios on novels that are not public show only in a reader's search of their own.
        own = reader_id is not None and str(data.get("creator_id") or "") == str(reader_id)
        params = search.SearchParams(
            **data, sort_field=sort_field, descending=descending, shared_only=not own
        )
        body, age = search.cached_search_body(params=params, page=page, reader_id=reader_id)
        response = HttpResponse(body, content_type="application/json")
        if age is not None:
            response["Age"] = str(age)
        return response
