"""`{content: [...], page: {number, size, total_elements, total_pages}}`, 0-indexed."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class PageInfo(BaseModel):
    number: int = Field(ge=0)
    size: int = Field(ge=1, le=MAX_PAGE_SIZE)
    total_elements: int = Field(ge=0)
    total_pages: int = Field(ge=0)


class Page(BaseModel, Generic[T]):
    content: list[T]
    page: PageInfo
