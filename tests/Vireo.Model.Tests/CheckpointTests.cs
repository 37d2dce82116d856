using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vireo-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    public void SafetensorsRoundTripKeepsEveryTensor(ScalarType storage)
    {
        random.manual_seed(1);
        using var model = new VireoModel(ModelConfig.Tiny());
        VireoCheckpoint.Save(model, _dir, storage);
        using var loaded = VireoCheckpoint.Load(_dir);
        Assert.Equal(model.Config.LlmConfig, loaded.Config.LlmConfig);
        var expected = model.state_dict();
        var actual = loaded.state_dict();
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        var tolerance = storage == ScalarType.Float16 ? 1e-2 : 0;
        foreach (var (name, tensor) in expected)
        {
            Assert.Equal(ScalarType.Float32, actual[name].dtype);
            Assert.True(allclose(tensor, actual[name], rtol: tolerance, atol: tolerance), name);
        }
    }

    [Fact]
    public void MismatchedCheckpointIsReportedByNameAndShape()
    {
        random.manual_seed(1);
        using (var model = new VireoModel(ModelConfig.Tiny())) VireoCheckpoint.Save(model, _dir);
        var tiny = ModelConfig.Tiny();
        // Two decoder layers and a wider router input: layer 1 is missing, and ViT-width tensors mis-shaped.
        var other = tiny with
        {
            LlmConfig = tiny.LlmConfig with { NumHiddenLayers = 2 },
            VisionConfig = tiny.VisionConfig with { HiddenSize = 64, IntermediateSize = 128 },
        };
        using var target = new VireoModel(other);
        var error = Assert.Throws<CheckpointMismatchException>(() =>
            VireoCheckpoint.LoadWeights(target, Path.Combine(_dir, VireoCheckpoint.WeightsFile)));
        Assert.Contains("language_model.model.layers.1.self_attn.q_proj.weight", error.Missing);
        Assert.Empty(error.Unexpected);
        Assert.Contains(error.Misshaped, m => m.StartsWith("vision_model.embeddings.position_embedding (model [1,1025,64], file [1,1025,32])", StringComparison.Ordinal));
        Assert.Contains("missing", error.Message);
        Assert.Contains("wrong shape", error.Message);

        // A file with a tensor the model does not have is reported as unexpected.
        using var smaller = new VireoModel(tiny with { RouterConfig = new RouterConfig { NumGatingBlocks = 1 } });
        var extra = Assert.Throws<CheckpointMismatchException>(() =>
            VireoCheckpoint.LoadWeights(smaller, Path.Combine(_dir, VireoCheckpoint.WeightsFile)));
        Assert.Contains("vir.blocks.1.fc1.weight", extra.Unexpected);
    }

    [Fact]
    public void SineCosinePositionsEncodeRowAndColumn()
    {
        using var model = new VireoModel(ModelConfig.Tiny());
        model.Vision.UseSineCosinePositions();
        var table = model.Vision.state_dict()["embeddings.position_embedding"];
        var side = model.Config.PatchesPerSide;
        var d = (int)table.shape[2];
        // Patch (row 2, column 5): sin(row), cos(row), sin(column), cos(column) at the lowest frequency (1 rad a patch).
        var patch = table[0, 1 + 2 * side + 5].data<float>().ToArray();
        Assert.Equal(Math.Sin(2), patch[0], 5);
        Assert.Equal(Math.Cos(2), patch[d / 4], 5);
        Assert.Equal(Math.Sin(5), patch[d / 2], 5);
        Assert.Equal(Math.Cos(5), patch[3 * d / 4], 5);
        Assert.All(table[0, 0].data<float>().ToArray(), v => Assert.Equal(0f, v));
    }
}
