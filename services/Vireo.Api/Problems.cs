using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;

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
