"""Errors raised while loading contracts or reading data against them."""

from __future__ import annotations


class ContractError(Exception):
    """A contract breaks a governance rule; raised when the contract is defined."""


class SchemaDriftError(ContractError):
    """A legacy source no longer has the shape its reader and contract expect.

    Raised before any row is loaded, so drift blocks the dataset and everything downstream.
    """

    def __init__(self, source: str, column: str, problem: str) -> None:
        self.source = source
        self.column = column
        self.problem = problem
        super().__init__(f"schema drift in {source}: column {column!r} {problem}")
