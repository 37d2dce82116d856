using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Vireo.Storage;

namespace Vireo.Api.Auth;

/// <summary>Claims an authenticated request carries.</summary>
public static class ApiClaims
{
    public const string Scheme = "ApiKey";
    public const string TenantClaim = "vireo:tenant";
    public const string KeyIdClaim = "vireo:key";

    /// <summary>The tenant of the key that authenticated the request.</summary>
    public static string Tenant(this ClaimsPrincipal user) =>
        user.FindFirstValue(TenantClaim) ?? throw new InvalidOperationException("the request is not authenticated");
}

/// <summary>
/// Keys recently found valid, so that a request costs no database round trip. Only valid keys are kept (an unknown
/// key is looked up every time), at most <see cref="Capacity"/> of them, each for <see cref="ApiOptions.KeyCacheSeconds"/>.
/// </summary>
public sealed class ApiKeyCache(ApiKeyStore store, IOptions<ApiOptions> options, TimeProvider clock)
{
    private const int Capacity = 10_000;
    private readonly ConcurrentDictionary<string, (StoredApiKey Key, DateTimeOffset Until)> _valid = new(StringComparer.Ordinal);

    public async ValueTask<StoredApiKey?> FindAsync(string secret, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_valid.TryGetValue(secret, out var hit) && hit.Until > now)
            return hit.Key;
        var key = await store.FindAsync(secret, cancellationToken);
        if (key is null)
        {
            _valid.TryRemove(secret, out _);
            return null;
        }
        var ttl = TimeSpan.FromSeconds(options.Value.KeyCacheSeconds);
        if (ttl > TimeSpan.Zero)
        {
            if (_valid.Count >= Capacity)
                _valid.Clear();
            _valid[secret] = (key, now + ttl);
        }
        return key;
    }
}

/// <summary>Authenticates "Authorization: Bearer KEY" against the stored key hashes; answers 401 as problem+json.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyCache keys, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
            return AuthenticateResult.NoResult();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.Fail("the Authorization header is not a Bearer key");
        var key = await keys.FindAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        if (key is null)
            return AuthenticateResult.Fail("the key is unknown or revoked");
        // A key made before its tenant's id was checked as now (such as "..") would name folders outside its own.
        if (!VideoKey.IsValidId(key.TenantId))
            return AuthenticateResult.Fail($"the key's tenant is not {VideoKey.IdRule}; make a key for a valid tenant");
        var identity = new ClaimsIdentity([new Claim(ApiClaims.TenantClaim, key.TenantId), new Claim(ApiClaims.KeyIdClaim, key.KeyId)], ApiClaims.Scheme);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiClaims.Scheme));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = result.Failure?.Message ?? "send an API key as 'Authorization: Bearer KEY' (vireo keys create --tenant T)",
            },
        });
    }
}
