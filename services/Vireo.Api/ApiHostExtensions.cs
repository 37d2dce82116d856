using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Scalar.AspNetCore;
using Vireo.Api.Auth;
using Vireo.Api.Data;
using Vireo.Api.Endpoints;
using Vireo.Api.Uploads;
using Vireo.Blobs;
using Vireo.Media;
using Vireo.Messaging;
using Vireo.ServiceDefaults;
using Vireo.Storage;

namespace Vireo.Api;

public static class ApiHostExtensions
{
    private const string PerKeyPolicy = "per-key";

    /// <summary>The results API: storage, messaging, the probe, keys, rate limits, problem details and OpenAPI.</summary>
    public static IHostApplicationBuilder AddVireoApi(this IHostApplicationBuilder builder)
    {
        var api = builder.BindValidated<ApiOptions>(ApiOptions.Section);
        builder.Services.AddOptions<ApiMediaOptions>().BindConfiguration("Pipeline").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddVireoMessaging().AddVireoStorage().AddVireoMedia().AddVireoBlobs();
        // An upload waits for its event's delivery report, and the producer gives a record up for good within the
        // upload's wait: an upload refused because its event was not delivered does not have it sent later.
        builder.Services.PostConfigure<KafkaOptions>(kafka => kafka.MessageTimeoutMs = Math.Min(kafka.MessageTimeoutMs, api.PublishTimeoutSeconds * 1000));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<VideoRepository>();
        builder.Services.AddSingleton<MediaStore>();
        builder.Services.AddSingleton<UploadService>();
        builder.Services.AddSingleton<UrlProbe>();
        builder.Services.AddHttpClient(UrlProbe.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => UrlSourceConnections.Handler(sp.GetRequiredService<IOptions<ApiMediaOptions>>().Value.AllowPrivateUrlHosts));
        builder.Services.AddSingleton<ApiKeyCache>();
        builder.Services.AddSingleton<OpenRequests>();
        builder.Services.AddHealthChecks().AddPostgresReadiness().AddKafkaReadiness();

        // Ids of up to 128 characters fit the default request line; a longer one still reaches the API, which
        // answers it with a problem rather than a bare 414 from the server.
        builder.Services.Configure<KestrelServerOptions>(k => k.Limits.MaxRequestLineSize = 32 * 1024);
        builder.Services.AddProblemDetails();
        // A parameter that cannot be bound is thrown rather than answered with a bare 400, so that the answer says why.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<BadRequestAnswer>();
        builder.Services.AddExceptionHandler<UnavailableAnswer>();
        builder.Services.AddAuthentication(ApiClaims.Scheme).AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiClaims.Scheme, null);
        builder.Services.AddAuthorization();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(PerKeyPolicy, context => RateLimitPartition.GetTokenBucketLimiter(
                context.User.FindFirst(ApiClaims.KeyIdClaim)?.Value ?? "",
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = api.Burst,
                    TokensPerPeriod = api.RequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too Many Requests",
                        Detail = $"this key may make {api.RequestsPerSecond} requests a second (bursts of {api.Burst}); retry after {retryAfter} s",
                    },
                });
            };
        });
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Vireo results API";
            document.Info.Description = "Uploads, results, search and live progress of Vireo's video analysis. Send an API key as 'Authorization: Bearer KEY'.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[ApiClaims.Scheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key made with `vireo keys create --tenant T`.",
            };
            document.Security ??= [];
            document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiClaims.Scheme, document)] = [] });
            return Task.CompletedTask;
        }));
        return builder;
    }

    /// <summary>Error pages as problem+json, the viewer's static files, then keys and rate limits.</summary>
    public static WebApplication UseVireoApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>/v1 (keys required, rate-limited per key), the OpenAPI document and its reference at /docs.</summary>
    public static WebApplication MapVireoApi(this WebApplication app)
    {
        app.MapGroup("/v1").RequireAuthorization().RequireRateLimiting(PerKeyPolicy).MapVideosApi().MapSearchApi();
        app.MapOpenApi();
        app.MapScalarApiReference("/docs", o => o.WithTitle("Vireo results API").WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        return app;
    }
}
