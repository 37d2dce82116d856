using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Vireo.Api;

/// <summary>problem+json answers (RFC 9457) with a title per status and the reason in the detail.</summary>
public static class Problems
{
    public static ProblemHttpResult BadRequest(string detail) => Of(StatusCodes.Status400BadRequest, detail);
    public static ProblemHttpResult NotFound(string what) => Of(StatusCodes.Status404NotFound, $"{what} was not found");
    public static ProblemHttpResult Conflict(string detail) => Of(StatusCodes.Status409Conflict, detail);
    public static ProblemHttpResult TooLarge(string detail) => Of(StatusCodes.Status413PayloadTooLarge, detail);
    public static ProblemHttpResult UnsupportedMediaType(string detail) => Of(StatusCodes.Status415UnsupportedMediaType, detail);
    public static ProblemHttpResult Unprocessable(string detail) => Of(StatusCodes.Status422UnprocessableEntity, detail);
    public static ProblemHttpResult Unavailable(string detail) => Of(StatusCodes.Status503ServiceUnavailable, detail);

    /// <summary>Seconds a client is asked to wait by a 503 for a service behind the API that could not be reached.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>503 with Retry-After: <paramref name="what"/> could not be reached, and the same request may succeed later.</summary>
    public static ProblemHttpResult RetryLater(HttpContext http, string what)
    {
        SetRetryAfter(http.Response);
        return Unavailable(RetryLaterDetail(what));
    }

    /// <summary>Asks the client to wait <see cref="RetryAfterSeconds"/> before it tries again.</summary>
    public static void SetRetryAfter(HttpResponse response) =>
        response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The detail of a 503: what cannot be reached, and when to retry.</summary>
    public static string RetryLaterDetail(string what) => $"{what}; retry after {RetryAfterSeconds} s";

    public static ProblemHttpResult Of(int status, string detail) => TypedResults.Problem(detail: detail, statusCode: status);
}

/// <summary>
/// Answers a request the framework could not read, such as a query value that is not of its parameter's type
/// (limit=abc, since=yesterday, limit=1&amp;limit=2), with its status and the framework's reason as the detail.
/// </summary>
public sealed class BadRequestAnswer(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
            return false;
        httpContext.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = { Status = bad.StatusCode, Detail = bad.Message },
            Exception = exception,
        });
    }
}

/// <summary>
/// Answers a request that failed because the database could not be reached (refused, cut off, timed out, shutting
/// down, out of connections) with 503 and Retry-After rather than 500: the request was sound, and the same request
/// succeeds once the database is back. A database error about the request itself stays a 500.
/// </summary>
public sealed partial class UnavailableAnswer(IProblemDetailsService problems, ILogger<UnavailableAnswer> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not NpgsqlException database || database is PostgresException { IsTransient: false })
            return false;
        LogUnavailable(httpContext.Request.Path, database.Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        Problems.SetRetryAfter(httpContext.Response);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = { Status = StatusCodes.Status503ServiceUnavailable, Detail = Problems.RetryLaterDetail("the database cannot be reached right now") },
            Exception = exception,
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path} answered 503, the database unreachable: {Reason}")]
    private partial void LogUnavailable(string path, string reason);
}
