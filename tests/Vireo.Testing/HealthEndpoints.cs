using System.Net;

namespace Vireo.Testing;

/// <summary>The HTTP endpoints of a Vireo process started with Http:Port=0 and Http:UrlFile set.</summary>
public sealed class HealthEndpoints(string urlFile)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public string UrlFile { get; } = urlFile;

    /// <summary>The base URL once the process listens, else null.</summary>
    public string? BaseUrl => File.Exists(UrlFile) ? File.ReadAllText(UrlFile).Trim() : null;

    /// <summary>The status code and body of a GET, or null while the process does not listen yet.</summary>
    public async Task<(HttpStatusCode Status, string Body)?> GetAsync(string path)
    {
        if (BaseUrl is not { Length: > 0 } url)
            return null;
        try
        {
            using var response = await Http.GetAsync(url + path);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public async Task<bool> IsReadyAsync() => (await GetAsync("/readyz"))?.Status == HttpStatusCode.OK;
}
