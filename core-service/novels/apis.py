"""Public novel catalogue (/api/v1/novels) and the ai service's internal
novel API (/api/internal/novels)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from gaji_contracts.novels import IngestionStatus, NovelCreate, NovelUpdate
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.pagination import PageQuerySerializer, PageRequest, page_serializer, paginate
from common.schema import errors
from internal.apis import InternalApiView, parse_contract
from novels import selectors, services
from novels.models import Novel


class NovelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Novel
        fields = [
            "id",
            "slug",
            "title",
            "author",
            "publication_year",
            "genre",
            "language",
            "ingestion_status",
            "total_passages",
            "total_characters",
            "vectordb_collection_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields  # an answer's shape: every field is always there


NovelPageSerializer = page_serializer("NovelPage", NovelSerializer)


class NovelListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=[s.value for s in IngestionStatus], required=False)
        q = serializers.CharField(
            max_length=200, required=False, help_text="Matches title or author (case-insensitive)"
        )

    @extend_schema(
        operation_id="novels_list",
        parameters=[FilterSerializer, PageQuerySerializer],
        responses={200: NovelPageSerializer, **errors()},
        auth=[],
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        novels = selectors.novel_list(**filters.validated_data)
        body = paginate(novels, PageRequest.from_request(request), lambda n: NovelSerializer(n).data)
        return Response(body)


class NovelDetailApi(APIView):
    @extend_schema(operation_id="novels_get", responses={200: NovelSerializer, **errors(404)}, auth=[])
    def get(self, request, id_or_slug: str):
        return Response(NovelSerializer(selectors.novel_get(id_or_slug=id_or_slug)).data)


class InternalNovelCreateApi(InternalApiView):
    class StatusSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=[s.value for s in IngestionStatus], required=False)

    @extend_schema(
        operation_id="internal_novels_list",
        parameters=[StatusSerializer, PageQuerySerializer],
        responses={200: NovelPageSerializer, **errors(401, 403)},
        description="Novels by ingestion status (the ai service checks that the completed ones "
        "are really in its vector store). Service token only.",
    )
    def get(self, request):
        filters = self.StatusSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        novels = selectors.novel_list(status=filters.validated_data.get("status"))
        body = paginate(novels, PageRequest.from_request(request), lambda n: NovelSerializer(n).data)
        return Response(body)

    @extend_schema(
        operation_id="internal_novels_create",
        request=NovelCreate,
        responses={201: NovelSerializer, **errors(401, 403, 409)},
        description="Create a novel's metadata (ai service, during ingestion). Service token only.",
    )
    def post(self, request):
        novel = services.novel_create(data=parse_contract(NovelCreate, request.data))
        return Response(NovelSerializer(novel).data, status=status.HTTP_201_CREATED)


class InternalNovelDetailApi(InternalApiView):
    @extend_schema(
        operation_id="internal_novels_get",
        responses={200: NovelSerializer, **errors(401, 403, 404)},
        description="A novel's metadata by id or slug. Service token only.",
    )
    def get(self, request, novel_id: str):
        return Response(NovelSerializer(selectors.novel_get(id_or_slug=novel_id)).data)

    @extend_schema(
        operation_id="internal_novels_update",
        request=NovelUpdate,
        responses={200: NovelSerializer, **errors(401, 403, 404)},
        description="Update ingestion status and counts (ai service). Service token only.",
    )
    def patch(self, request, novel_id: str):
        novel = selectors.novel_get(id_or_slug=novel_id)
        novel = services.novel_update(novel=novel, data=parse_contract(NovelUpdate, request.data))
        return Response(NovelSerializer(novel).data)
