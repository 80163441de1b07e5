"""`?page=&size=` parsing and the `{content, page}` envelope, 0-indexed."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from gaji_contracts.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from rest_framework import serializers

from common.redis import shared_get, shared_set

MAX_PAGE_NUMBER = 10_000_000


class PageQuerySerializer(serializers.Serializer):
    """`?page=&size=`; a view's query serializer adds its filters by subclassing
    it, and documents them with `extend_schema(parameters=[ThatSerializer])`."""

    page = serializers.IntegerField(
        min_value=0, max_value=MAX_PAGE_NUMBER, default=0, help_text="0-indexed page number"
    )
    size = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE, help_text="Items per page"
    )


@dataclass(frozen=True)
class PageRequest:
    number: int
    size: int

    @classmethod
    def from_request(cls, request) -> PageRequest:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return cls(number=query.validated_data["page"], size=query.validated_data["size"])


def page_info(page: PageRequest, total: int) -> dict:
    return {
        "number": page.number,
        "size": page.size,
        "total_elements": total,
        "total_pages": math.ceil(total / page.size) if total else 0,
    }


def paginate(queryset, page: PageRequest, serialize, *, total: int | None = None) -> dict:
    """One page of `queryset`; pass `total` when it is already known (saves the COUNT)."""
    if total is None:
        total = queryset.count()
    start = page.number * page.size
    items = list(queryset[start : start + page.size]) if start < total else []
    return {"content": [serialize(item) for item in items], "page": page_info(page, total)}


class PageInfo(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField()
    total_elements = serializers.IntegerField()
    total_pages = serializers.IntegerField()


class EstimatedPageInfo(PageInfo):
    total_is_estimate = serializers.BooleanField(
        help_text="true when total_elements (and any facets) came from a count shared for up to "
        "COUNT_CACHE_SECONDS (results larger than COUNT_EXACT_LIMIT rows), false when counted for "
        "this request"
    )


def page_serializer(name: str, item_serializer, *, estimated: bool = False) -> type[serializers.Serializer]:
    """An OpenAPI-visible serializer for `{content: [item], page: {...}}`."""
    info = EstimatedPageInfo() if estimated else PageInfo()
    return type(name, (serializers.Serializer,), {"content": item_serializer(many=True), "page": info})


def shared_count(queryset, name: str, *, ttl_seconds: int = 10) -> int:
    """COUNT(*) of a large, unfiltered list, shared by all processes through
    Redis for `ttl_seconds`: counting every row on every page costs more
    than the page itself. `total_elements` may lag that long; if Redis is
    unreachable the count is simply exact."""
    key = f"{settings.REDIS_KEY_PREFIX}:count:{name}"
    cached, reachable = shared_get(key)
    if cached is not None:
        return int(cached)
    total = queryset.count()
    if reachable:
        shared_set(key, total, ttl_seconds)
    return total
