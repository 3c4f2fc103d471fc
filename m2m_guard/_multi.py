"""One verifier for tokens from several issuers (``Verifier.combine``).

Each issuer keeps its own ``Verifier``: key source, audience, algorithms,
claim mapping, JWKS cache and token cache. The token's unverified ``iss``
only chooses which one checks it; everything is then verified against that
issuer alone, so a token can never borrow another issuer's keys or rules,
and a token naming an unknown issuer is refused without any network call.

A member may also be a ``MultiTenantVerifier`` (``Verifier.multi_tenant``,
``Verifier.for_entra(tenant="common")``): a token whose ``iss`` no member
names exactly is offered to the multi-tenant members whose issuer patterns
match it, which then admit its tenant (or not) as they do alone.

Events: the entry points and their reporting are ``VerifierBase``'s, so a
combined verifier emits exactly what its deciding member would emit alone,
once, to that member's ``on_event`` hook: the member whose token cache hit,
or the one the token's ``iss`` (and audience) selects. What no member
decides (an unknown issuer, a token too malformed to name one, a request
without or with malformed credentials) is reported to the first member's
hook (the first one that has a hook, in ``combine`` order). With one hook
shared by every member, that hook sees every event exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

from ._base import IssuerVerifier, Scopes, VerifierBase
from ._sansio.claims import M2MClaims
from ._sansio.errors import (
    ConfigurationError,
    InvalidAudienceError,
    InvalidIssuerError,
    M2MGuardError,
    MalformedTokenError,
)
from ._sansio.jws import parse_token
from ._sansio.request import RequestContext
from ._sansio.rules import RouteRules
from ._tenants import MultiTenantVerifier
from ._warm_up import ready_or_raise

__all__ = ["Member", "MultiIssuerVerifier"]

#: What ``Verifier.combine`` combines.
Member = Union[IssuerVerifier, MultiTenantVerifier]  # noqa: UP007


class MultiIssuerVerifier(VerifierBase):
    """Verifies tokens of several issuers, each with its own ``Verifier``.

    Build it with ``Verifier.combine(verifier_a, verifier_b, ...)``.
    """

    def __init__(self, verifiers: Iterable[Member]) -> None:
        self.verifiers: tuple[Member, ...] = tuple(verifiers)
        if not self.verifiers or not all(
            isinstance(v, (IssuerVerifier, MultiTenantVerifier)) for v in self.verifiers
        ):
            raise ConfigurationError(
                "combine needs one or more Verifier (or multi-tenant verifier) objects"
            )
        self._tenanted = tuple(v for v in self.verifiers if isinstance(v, MultiTenantVerifier))
        if any(getattr(v, "_binding", None) is not None for v in self.verifiers):
            # The binding path is one verifier's (its replay store, its proof rules).
            raise ConfigurationError(
                "combine does not take verifiers with dpop= or mtls= (sender-constrained "
                "tokens): protect those routes with their own Verifier"
            )
        # One issuer may serve several verifiers (two Stytch projects share
        # the base URL issuer); the token's audience then tells them apart.
        self._by_issuer: dict[str, tuple[IssuerVerifier, ...]] = {}
        for verifier in self.verifiers:
            if isinstance(verifier, MultiTenantVerifier):
                continue
            for issuer in verifier.policy.issuers:
                known = self._by_issuer.get(issuer, ())
                if any(not v.policy.audiences.isdisjoint(verifier.policy.audiences) for v in known):
                    raise ConfigurationError(
                        f"issuer {issuer!r} with the same audience is configured twice"
                    )
                self._by_issuer[issuer] = (*known, verifier)
        self._max_token_size = max(
            v._max_token_size if isinstance(v, MultiTenantVerifier) else v._engine.max_token_size
            for v in self.verifiers
        )
        hooks = [v._on_event for v in self.verifiers if v._on_event is not None]
        self._on_event = hooks[0] if hooks else None  # for what no member decides

    @property
    def issuers(self) -> frozenset[str]:
        """Every issuer accepted by name (multi-tenant members' patterns aside)."""
        return frozenset(self._by_issuer)

    def _hit(
        self,
        header: str,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        for verifier in self.verifiers:
            claims = verifier._hit(header, required, any_of, path, request, rules)
            if claims is not None:
                return claims
        return None

    def _cached(
        self,
        token: str,
        max_token_age: float | None,
        required: Scopes,
        any_of: Scopes,
        path: str | None = None,
        request: RequestContext | None = None,
        rules: RouteRules | None = None,
    ) -> M2MClaims | None:
        for verifier in self.verifiers:
            claims = verifier._cached(token, max_token_age, required, any_of, path, request, rules)
            if claims is not None:
                return claims
        return None

    def _lookup(
        self, key: str, bearer: bool, max_token_age: float | None
    ) -> tuple[IssuerVerifier, M2MClaims] | None:
        for verifier in self.verifiers:
            found = verifier._lookup(key, bearer, max_token_age)
            if found is not None:
                return found
        return None

    @property
    def _sync_hits(self) -> bool:  # type: ignore[override]
        return all(v._sync_hits for v in self.verifiers)

    @property
    def accepted(self) -> tuple[frozenset[str], frozenset[str], float | None]:
        """Every member's issuers and audiences, and the smallest ``max_token_age``
        of those that have one: what a route may narrow. (A route's age limit
        replaces a member's, so it may not exceed any member's own.)"""
        accepted = [v.accepted for v in self.verifiers]
        limits = [age for _, _, age in accepted if age is not None]
        return (
            frozenset().union(*(issuers for issuers, _, _ in accepted)),
            frozenset().union(*(audiences for _, audiences, _ in accepted)),
            min(limits) if limits else None,
        )

    def _route(self, token: str) -> IssuerVerifier | MultiTenantVerifier:
        """The member that decides about the token: the verifier of its
        (unverified) issuer, and audience where one issuer serves several;
        else the first multi-tenant member whose patterns match the issuer.
        Nothing is fetched."""
        if not isinstance(token, str):
            raise MalformedTokenError("The access token must be a string.")
        claims = parse_token(token, max_size=self._max_token_size).claims
        issuer = claims.get("iss")
        candidates = self._by_issuer.get(issuer, ()) if isinstance(issuer, str) else ()
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            if isinstance(issuer, str):
                for member in self._tenanted:
                    if any(p.match(issuer) is not None for p in member.patterns):
                        return member
            raise InvalidIssuerError()
        for verifier in candidates:
            try:
                verifier.policy.check_audience(claims)
            except InvalidAudienceError:
                continue
            return verifier
        raise InvalidAudienceError()

    def _issuer_verifier(self, token: str) -> IssuerVerifier:
        member = self._route(token)
        return member._issuer_verifier(token) if isinstance(member, MultiTenantVerifier) else member

    def _member(self, token: str, path: str | None) -> IssuerVerifier | MultiTenantVerifier:
        try:
            return self._route(token)
        except M2MGuardError as exc:  # no member decides: reported here
            self._failed(exc, path)
            raise

    def _decider(self, token: str, path: str | None = None) -> IssuerVerifier:
        # A multi-tenant member reports its own refusals (an unlisted tenant)
        # to its own hook, as it does alone.
        member = self._member(token, path)
        return member._decider(token, path) if isinstance(member, MultiTenantVerifier) else member

    async def _decider_async(self, token: str, path: str | None = None) -> IssuerVerifier:
        member = self._member(token, path)
        if isinstance(member, MultiTenantVerifier):
            return await member._decider_async(token, path)
        return member

    @property
    def principal_target(self) -> Any:
        """What every member's ``principal=`` names, when they all name the same."""
        targets = [v.principal_target for v in self.verifiers]
        return targets[0] if all(t is targets[0] for t in targets) else None

    @property
    def ready(self) -> bool:
        """Whether every issuer has usable keys cached."""
        return all(v.ready for v in self.verifiers)

    @property
    def needs_request(self) -> bool:
        """Whether any member's rules look at the request."""
        return any(v.needs_request for v in self.verifiers)

    def warm_up(self, *, strict: bool = False) -> bool:
        """Fetch every issuer's keys now. Whether all are ready; never raises,
        unless ``strict``: then, once every issuer was tried, the first one
        without usable keys is a ``KeysUnavailableError`` saying why."""
        ready = [v.warm_up() for v in self.verifiers]  # each one, no short cut
        return self._all_ready_or_raise(ready, strict)

    async def warm_up_async(self, *, strict: bool = False) -> bool:
        """Like ``warm_up``, for async code."""
        ready = [await v.warm_up_async() for v in self.verifiers]  # each one, no short cut
        return self._all_ready_or_raise(ready, strict)

    def _all_ready_or_raise(self, ready: list[bool], strict: bool) -> bool:
        if strict:
            ready_or_raise([c for v in self.verifiers for c in v._key_caches()], strict)
        return all(ready)

    def close(self) -> None:
        """Close every verifier's own HTTP client."""
        for verifier in self.verifiers:
            verifier.close()

    async def aclose(self) -> None:
        """Close every verifier's own async HTTP client in this event loop."""
        for verifier in self.verifiers:
            await verifier.aclose()

    def __repr__(self) -> str:
        return f"<MultiIssuerVerifier issuers={sorted(self._by_issuer)}>"
