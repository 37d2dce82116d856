using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Vireo.Api.Auth;
using Vireo.Api.Data;

namespace Vireo.Api.Endpoints;

/// <summary>/v1/search: full-text search over the captions and texts of the tenant's frames.</summary>
public static class SearchApi
{
    public const int MaxQueryLength = 256;
    public const int MaxResults = 100;

    public static RouteGroupBuilder MapSearchApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/search", SearchAsync).WithTags("Search").WithName("Search")
            .WithSummary("Frames whose caption or text match, best first, with timestamps and highlighted snippets")
            .WithDescription("q takes web-search syntax: words, \"quoted phrases\", 'or', and -excluded words.");
        return v1;
    }

    private static async Task<Results<Ok<SearchResults>, ProblemHttpResult>> SearchAsync(
        ClaimsPrincipal user, VideoRepository repository, IOptions<ApiOptions> options, CancellationToken cancellationToken, string? q = null, string? video = null, int? limit = null)
    {
        var query = q?.Trim();
        if (string.IsNullOrEmpty(query) || query.Length > MaxQueryLength || query.Contains('\0'))
            return Problems.BadRequest($"q is required: 1–{MaxQueryLength} characters");
        if (video is not null && VideosApi.CheckId(video) is { } badId)
            return badId;
        if (limit is < 1 or > MaxResults)
            return Problems.BadRequest($"limit must be between 1 and {MaxResults}");
        return TypedResults.Ok(await repository.SearchAsync(user.Tenant(), query, video, limit ?? 20, options.Value.SearchCandidates, cancellationToken));
    }
}
