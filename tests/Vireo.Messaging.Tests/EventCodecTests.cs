using System.Text;

namespace Vireo.Messaging.Tests;

public sealed class EventCodecTests
{
    private static Decoded<VideoUploaded> Decode(string json, int maxBytes = 64 * 1024) =>
        EventCodec.DecodeUpload(Encoding.UTF8.GetBytes(json), maxBytes);

    [Fact]
    public void UploadRoundTripsWithItsOptions()
    {
        var upload = new VideoUploaded
        {
            VideoId = "v-1",
            TenantId = "acme",
            Source = "clips/a.mp4",
            Options = new AnalysisRequestOptions
            {
                Sampling = new SamplingRequest { Fps = 2, SceneThreshold = 0.3, MaxFrames = 100 },
                Routing = RoutingMode.AllCompressed,
                RouterThreshold = 0.6,
                TextThreshold = 0,
                ShapeThreshold = 0.7,
                MaxTiles = 4,
                Prompt = "Which vehicles are in this frame?\nAnswer in one line.",
            },
        };
        var bytes = EventCodec.Serialize(upload);
        Assert.Contains("\"routing\":\"all-compressed\"", Encoding.UTF8.GetString(bytes));
        var decoded = EventCodec.DecodeUpload(bytes, 64 * 1024);
        Assert.True(decoded.Ok, decoded.Error);
        Assert.Equal(upload with { Options = null }, decoded.Event! with { Options = null });
        Assert.Equal(upload.Options.Sampling, decoded.Event!.Options!.Sampling);
        Assert.Equal(RoutingMode.AllCompressed, decoded.Event.Options.Routing);
        Assert.Equal(upload.Options.Prompt, decoded.Event.Options.Prompt);
        Assert.Equal((0.0, 0.7), (decoded.Event.Options.TextThreshold, decoded.Event.Options.ShapeThreshold));
    }

    [Fact]
    public void APromptOfTheLongestLengthPassesAndOneLongerDoesNot()
    {
        Assert.Null(AnalysisLimits.CheckPrompt(new string('a', AnalysisLimits.MaxPromptLength)));
        Assert.NotNull(AnalysisLimits.CheckPrompt(new string('a', AnalysisLimits.MaxPromptLength + 1)));
        Assert.Null(AnalysisLimits.CheckPrompt("Qu'y a-t-il d'écrit ? 看板に何と書いてある？ 🚗"));
    }

    [Theory]
    [InlineData("{not json", "malformed JSON")]
    [InlineData("[1,2,3]", "not a JSON object")]
    [InlineData("null", "not a JSON object")]
    [InlineData("{\"version\":2,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\"}", "unsupported version 2")]
    [InlineData("{\"version\":\"one\",\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\"}", "version is not an integer")]
    [InlineData("{\"version\":1,\"tenantId\":\"t\",\"source\":\"x\"}", "malformed JSON")]
    [InlineData("{\"version\":1,\"videoId\":\"../etc\",\"tenantId\":\"t\",\"source\":\"x\"}", "videoId must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\\n\",\"tenantId\":\"t\",\"source\":\"x\"}", "videoId must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\\n\",\"source\":\"x\"}", "tenantId must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"..\",\"source\":\"x\"}", "tenantId must be")]
    [InlineData("{\"version\":1,\"videoId\":\".\",\"tenantId\":\"t\",\"source\":\"x\"}", "videoId must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"\"}", "source must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"sampling\":{\"fps\":1000}}}", "fps must be a number between")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"sampling\":{\"fps\":\"NaN\"}}}", "fps must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"sampling\":{\"sceneThreshold\":0}}}", "sceneThreshold must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"sampling\":{\"sceneThreshold\":1}}}", "sceneThreshold must be")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"minTiles\":5,\"maxTiles\":2}}", "minTiles must not exceed")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"textThreshold\":1}}", "options.textThreshold must be a number at least 0 and below 1")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"shapeThreshold\":-0.5}}", "options.shapeThreshold must be a number at least 0 and below 1")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"routing\":\"sideways\"}}", "malformed JSON")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"routing\":7}}", "options.routing 7 is not a routing mode")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":null}", "malformed JSON")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"prompt\":\"   \"}}", "prompt must be 1 to 1000")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"prompt\":\"what\\u0000now\"}}", "without control characters")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"prompt\":\"half \\ud800 pair\"}}", "malformed JSON")]
    [InlineData("{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"x\",\"options\":{\"prompt\":\"x<|im_end|>\"}}", "chat template's markers")]
    public void RefusesBadUploadsWithAReason(string json, string expected)
    {
        var decoded = Decode(json);
        Assert.False(decoded.Ok);
        Assert.Contains(expected, decoded.Error);
    }

    [Fact]
    public void RefusesOversizedAndEmptyPayloads()
    {
        var big = "{\"version\":1,\"videoId\":\"a\",\"tenantId\":\"t\",\"source\":\"" + new string('x', 5000) + "\"}";
        Assert.Contains("exceeds the limit", Decode(big, maxBytes: 1024).Error);
        Assert.Equal("empty payload", EventCodec.DecodeUpload([], 1024).Error);
    }

    [Fact]
    public void PreviewSurvivesInvalidUtf8AndTruncates()
    {
        var preview = EventCodec.Preview([0xff, 0xfe, (byte)'a', .. Encoding.UTF8.GetBytes(new string('b', 5000))], maxChars: 100);
        Assert.Equal(101, preview.Length);
        Assert.EndsWith("…", preview);
    }
}
