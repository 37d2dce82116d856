using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vireo.Media;

namespace Vireo.Grains.Ingest;

/// <summary>A source that Vireo will not read, and why.</summary>
public sealed class SourceRejectedException(string reason) : Exception(reason);

/// <summary>Where a video comes from once its source was checked: a file under the media root, or a URL to fetch.</summary>
public abstract record CheckedSource
{
    public sealed record LocalFile(string Path) : CheckedSource;

    public sealed record Url(Uri Address) : CheckedSource;
}

/// <summary>
/// Checks upload sources against the configuration: a path must lead to a file inside the real media root once
/// every link along it is resolved as the kernel resolves it, and the checked path handed on has no links; URLs must be allowed, http(s), without credentials, and (unless configured) not point
/// at this host or a private network. Downloads are bounded in size and time.
/// </summary>
public sealed class SourceResolver(IOptions<PipelineOptions> options, IHttpClientFactory httpClients)
{
    /// <summary>The named HttpClient that downloads sources; see <see cref="SourceResolverServiceCollectionExtensions.AddSourceResolver"/>.</summary>
    public const string HttpClientName = "vireo-sources";

    private readonly PipelineOptions _options = options.Value;

    public CheckedSource Check(string source)
    {
        if (string.IsNullOrWhiteSpace(source) || source.Contains('\0'))
            throw new SourceRejectedException("the source is empty or contains a NUL character");
        if (source.Contains("://", StringComparison.Ordinal))
            return CheckUrl(source);
        return new CheckedSource.LocalFile(CheckPath(source));
    }

    /// <summary>
    /// Opens a file that <see cref="Check"/> accepted (or that <see cref="DownloadAsync"/> wrote) for the decoder, and
    /// confirms from the open file that it is still inside the media root (or the download folder).
    /// </summary>
    public OpenedSource Open(string checkedPath)
    {
        var folders = new[] { _options.MediaRoot, _options.DownloadFolder }.Where(f => !string.IsNullOrEmpty(f))
            .Select(f => LinkFreePath.Resolve(Path.GetFullPath(f!)).Path);
        var root = folders.FirstOrDefault(f => IsUnder(checkedPath, f))
            ?? throw new SourceRejectedException("the source is outside the media root");
        return OpenedSource.Open(checkedPath, root);
    }

    /// <summary>Fetches a URL source into the download folder and returns the file's path.</summary>
    public async Task<string> DownloadAsync(Uri address, VideoKey video, CancellationToken cancellationToken)
    {
        // Downloads are private to the user the silo runs as: the folder is 700 and every file is created 600.
        var folder = Path.GetFullPath(_options.DownloadFolder!);
        Directory.CreateDirectory(folder);
        var partialOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            partialOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        // "+" appears in no id, so two videos never share a file name.
        var target = Path.Combine(folder, $"{video.TenantId}+{video.VideoId}.video");
        var partial = target + ".part";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.DownloadTimeoutSeconds));
        try
        {
            using var http = httpClients.CreateClient(HttpClientName);
            using var response = await http.GetAsync(address, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
                throw new SourceRejectedException($"downloading {address} failed with HTTP {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength > _options.MaxDownloadBytes)
                throw new SourceRejectedException($"{address} is {response.Content.Headers.ContentLength} bytes, over the limit of {_options.MaxDownloadBytes}");
            // A part left by a crashed download would keep its old mode, so the file is always created afresh.
            File.Delete(partial);
            await using (var body = await response.Content.ReadAsStreamAsync(timeout.Token))
            await using (var file = new FileStream(partial, partialOptions))
            {
                var buffer = new byte[81920];
                long total = 0;
                int read;
                while ((read = await body.ReadAsync(buffer, timeout.Token)) > 0)
                {
                    total += read;
                    if (total > _options.MaxDownloadBytes)
                        throw new SourceRejectedException($"{address} exceeds the download limit of {_options.MaxDownloadBytes} bytes");
                    await file.WriteAsync(buffer.AsMemory(0, read), timeout.Token);
                }
            }
            File.Move(partial, target, overwrite: true);
            return target;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SourceRejectedException($"downloading {address} took longer than {_options.DownloadTimeoutSeconds} s");
        }
        catch (HttpRequestException e) when (e.InnerException is RefusedHostException refused)
        {
            throw new SourceRejectedException(refused.Message);
        }
        catch (HttpRequestException e)
        {
            throw new SourceRejectedException($"downloading {address} failed: {e.Message}");
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
    }

    private string CheckPath(string source)
    {
        var configuredRoot = Path.GetFullPath(_options.MediaRoot);
        var root = LinkFreePath.Resolve(configuredRoot);
        if (!root.Exists)
            throw new SourceRejectedException($"the media root '{configuredRoot}' does not exist");
        var requested = Path.Combine(configuredRoot, source);
        var real = LinkFreePath.Resolve(requested);
        if (!IsUnder(real.Path, root.Path))
        {
            // The lexical form only picks the message: confinement is decided on the real path alone.
            var lexical = Path.GetFullPath(requested);
            throw new SourceRejectedException(IsUnder(lexical, configuredRoot) || IsUnder(lexical, root.Path)
                ? $"'{source}' links outside the media root"
                : $"'{source}' is outside the media root");
        }
        if (!real.Exists || !File.Exists(real.Path))
            throw new SourceRejectedException(Directory.Exists(real.Path)
                ? $"'{source}' is a directory, not a video file"
                : $"'{source}' does not exist under the media root");
        return real.Path;
    }

    private static bool IsUnder(string path, string root) =>
        path.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal);

    private CheckedSource CheckUrl(string source)
    {
        if (!Uri.TryCreate(source, UriKind.Absolute, out var uri))
            throw new SourceRejectedException("the source looks like a URL but is not a valid one");
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            throw new SourceRejectedException($"URL scheme '{uri.Scheme}' is not supported; only http and https are");
        if (!_options.AllowUrls)
            throw new SourceRejectedException("URL sources are turned off (Pipeline:AllowUrls)");
        if (!string.IsNullOrEmpty(uri.UserInfo))
            throw new SourceRejectedException("URLs with credentials are refused");
        return new CheckedSource.Url(uri);
    }
}

public static class SourceResolverServiceCollectionExtensions
{
    /// <summary>The source checks and the HttpClient they download with, whose connections go only where the checks allow.</summary>
    public static IServiceCollection AddSourceResolver(this IServiceCollection services)
    {
        // Pipeline:DownloadTimeoutSeconds bounds a download, headers and body together; HttpClient's own 100 s
        // limit on the headers would end it sooner, under the wrong name.
        services.AddHttpClient(SourceResolver.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => UrlSourceConnections.Handler(sp.GetRequiredService<IOptions<PipelineOptions>>().Value.AllowPrivateUrlHosts));
        services.AddSingleton<SourceResolver>();
        return services;
    }
}
