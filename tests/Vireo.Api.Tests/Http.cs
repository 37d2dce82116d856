using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Vireo.Api.Tests;

/// <summary>Requests the tests send, built byte by byte where a client library would refuse or clean up the input.</summary>
public static class Http
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A multipart upload whose file part carries exactly the given file name and content type.</summary>
    public static ByteArrayContent Multipart(byte[] file, string fileName = "clip.mp4", string fileType = "video/mp4", string? options = null)
    {
        const string boundary = "vireo-test-boundary";
        using var body = new MemoryStream();
        void Write(string text) => body.Write(Encoding.UTF8.GetBytes(text));
        if (options is not null)
            Write($"--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{options}\r\n");
        Write($"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{fileName}\"\r\nContent-Type: {fileType}\r\n\r\n");
        body.Write(file);
        Write($"\r\n--{boundary}--\r\n");
        var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");
        return content;
    }

    public static async Task<HttpResponseMessage> UploadAsync(HttpClient client, byte[] file, string? options = """{"sampling":{"fps":1}}""", string? idempotencyKey = null,
        string fileName = "clip.mp4", string fileType = "video/mp4")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/videos") { Content = Multipart(file, fileName, fileType, options) };
        if (idempotencyKey is not null)
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        return await client.SendAsync(request);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement;
    }

    /// <summary>Asserts a problem+json answer with the status, and returns its detail.</summary>
    public static async Task<string> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem.TryGetProperty("detail", out var detail) ? detail.GetString() ?? "" : "";
    }

    /// <summary>The width and height a JPEG's frame header gives; throws for anything that is not a JPEG.</summary>
    public static (int Width, int Height) JpegSize(byte[] jpeg)
    {
        Assert.True(jpeg.Length > 4 && jpeg[0] == 0xFF && jpeg[1] == 0xD8, "not a JPEG: no start-of-image marker");
        var at = 2;
        while (at + 9 < jpeg.Length)
        {
            Assert.Equal(0xFF, jpeg[at]);
            var marker = jpeg[at + 1];
            var length = (jpeg[at + 2] << 8) | jpeg[at + 3];
            // Start of frame (baseline, extended, progressive...); C4, C8 and CC are other markers of the same range.
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC))
                return ((jpeg[at + 7] << 8) | jpeg[at + 8], (jpeg[at + 5] << 8) | jpeg[at + 6]);
            at += 2 + length;
        }
        throw new InvalidDataException("no frame header in the JPEG");
    }
}

/// <summary>A body sent in chunks with no Content-Length, as by a client that streams what it does not know the size of.</summary>
public sealed class ChunkedContent : HttpContent
{
    private readonly byte[] _body;

    public ChunkedContent(byte[] body, string mediaType)
    {
        _body = body;
        Headers.ContentType = new MediaTypeHeaderValue(mediaType);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(_body).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
