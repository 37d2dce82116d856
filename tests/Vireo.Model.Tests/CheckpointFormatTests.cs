using System.Text.Json;
using TorchSharp;
using TorchSharp.PyBridge;
using Vireo.Model.Configuration;
using Vireo.Model.Inference;
using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

/// <summary>Checkpoint directories as InternVL publishes them: config forms, parameter layouts, shards and dtypes.</summary>
[Collection(TorchDefaultDtype.Name)]
public sealed class CheckpointFormatTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vireo-format-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static ModelConfig FlashTiny() => ModelConfig.Tiny() with
    {
        Template = "internvl2_5",
        RouterConfig = new RouterConfig { Kind = RouterKind.Flash, Threshold = 0.5 },
        LlmConfig = ModelConfig.Tiny().LlmConfig with { TieWordEmbeddings = true },
    };

    [Fact]
    public void ShippedConfigIsInternVlsRemoteCodeFormatAndRoundTrips()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "checkpoints", "vireo-small", VireoCheckpoint.ConfigFile);
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal("InternVLChatModel", json.RootElement.GetProperty("architectures")[0].GetString());
        Assert.Equal("Qwen3ForCausalLM", json.RootElement.GetProperty("llm_config").GetProperty("architectures")[0].GetString());
        var config = ModelConfig.Load(path);
        Assert.Equal(RouterKind.Vireo, config.RouterConfig.Kind);
        Assert.Equal(ModelConfig.SmallTemplate, config.Template);
        Assert.Equal(File.ReadAllText(path), InternVlConfigJson.Write(config));
    }

    [Fact]
    public void ReadsTransformersNativeConfig()
    {
        const string native = """
            {
              "architectures": ["InternVLForConditionalGeneration"], "model_type": "internvl", "downsample_ratio": 0.5,
              "image_token_id": 151671, "vision_feature_layer": -1,
              "vision_config": { "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
                                 "image_size": [448, 448], "patch_size": [14, 14], "attention_bias": true, "layer_scale_init_value": 0.1,
                                 "layer_norm_eps": 1e-6, "norm_type": "layer_norm", "use_qk_norm": false, "hidden_act": "gelu" },
              "text_config": { "model_type": "qwen3", "vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 3072,
                               "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
                               "rms_norm_eps": 1e-6, "rope_theta": 1000000, "max_position_embeddings": 40960, "tie_word_embeddings": true }
            }
            """;
        var config = InternVlConfigJson.Read(native, "native");
        Assert.Equal(RouterKind.None, config.RouterConfig.Kind);
        Assert.Equal(448, config.ImageSize);
        Assert.Equal(14, config.PatchSize);
        Assert.Equal(1024, config.VisionConfig.HiddenSize);
        Assert.True(config.LlmConfig.TieWordEmbeddings);
        Assert.Equal(128, config.LlmConfig.HeadDim);
        Assert.Equal(1_000_000, config.LlmConfig.RopeTheta);
        Assert.Equal("internvl2_5", config.Template);
        Assert.Equal(256, config.TokensPerTile);

        var refused = Assert.Throws<InvalidDataException>(() => InternVlConfigJson.Read(native.Replace("\"qwen3\"", "\"qwen2\""), "other"));
        Assert.Contains("qwen2", refused.Message);
    }

    [Fact]
    public void ReadsRemoteCodeFlashConfigAsInternVl35Publishes()
    {
        const string remote = """
            {
              "architectures": ["InternVLChatModel"], "auto_map": { "AutoModel": "modeling_internvl_chat.InternVLChatModel" },
              "downsample_ratio": 0.5, "dynamic_image_size": true, "force_image_size": 448, "max_dynamic_patch": 12,
              "min_dynamic_patch": 1, "model_type": "internvl_chat", "ps_version": "v2", "select_layer": -1,
              "template": "internvl2_5", "torch_dtype": "bfloat16", "use_thumbnail": true, "flash_mode": true,
              "flash_relative_threshold": 0.0, "flash_absolute_threshold": 0.4,
              "vision_config": { "architectures": ["InternVisionModel"], "hidden_size": 1024, "num_hidden_layers": 24,
                                 "num_attention_heads": 16, "intermediate_size": 4096, "image_size": 448, "patch_size": 14,
                                 "qkv_bias": true, "qk_normalization": false, "norm_type": "layer_norm", "layer_norm_eps": 1e-06,
                                 "initializer_factor": 0.1, "hidden_act": "gelu", "drop_path_rate": 0.0, "use_flash_attn": true },
              "llm_config": { "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
                              "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28, "num_attention_heads": 16,
                              "num_key_value_heads": 8, "head_dim": 128, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
                              "max_position_embeddings": 40960, "tie_word_embeddings": true, "torch_dtype": "bfloat16" }
            }
            """;
        var config = InternVlConfigJson.Read(remote, "remote");
        Assert.Equal(RouterKind.Flash, config.RouterConfig.Kind);
        Assert.Equal(0.4, config.RouterConfig.Threshold);
        Assert.Equal(12, config.MaxDynamicPatch);
        Assert.Equal("bfloat16", config.TorchDType);
        Assert.Equal(2048, config.LlmConfig.HiddenSize);
        Assert.Equal(64, config.CompressedTokensPerTile);
        config.Validate();

        var v1 = Assert.Throws<InvalidDataException>(() => InternVlConfigJson.Read(remote.Replace("\"v2\"", "\"v1\""), "v1"));
        Assert.Contains("ps_version v1", v1.Message);
        var intern = Assert.Throws<InvalidDataException>(() => InternVlConfigJson.Read(remote.Replace("Qwen3ForCausalLM", "InternLM2ForCausalLM"), "internlm"));
        Assert.Contains("InternLM2ForCausalLM", intern.Message);
    }

    [Fact]
    public void FlashConfigRoundTripsWithItsThreshold()
    {
        var config = FlashTiny() with { RouterConfig = new RouterConfig { Kind = RouterKind.Flash, Threshold = 0.35 } };
        var back = InternVlConfigJson.Read(InternVlConfigJson.Write(config), "flash");
        Assert.Equal(RouterKind.Flash, back.RouterConfig.Kind);
        Assert.Equal(0.35, back.RouterConfig.Threshold);
        Assert.Equal(config.LlmConfig, back.LlmConfig);
        Assert.Equal(config.VisionConfig, back.VisionConfig);
    }

    [Fact]
    public void TheSmallModelsThresholdsRoundTripAndDefaultToReportingEverything()
    {
        var small = ModelConfig.Small();
        Assert.Equal((0.0, 0.0), (small.TextThreshold, small.ShapeThreshold));
        Assert.DoesNotContain("text_threshold", InternVlConfigJson.Write(small), StringComparison.Ordinal);
        Assert.DoesNotContain("shape_threshold", InternVlConfigJson.Write(small), StringComparison.Ordinal);
        var json = InternVlConfigJson.Write(small with { TextThreshold = 0.45, ShapeThreshold = 0.35 });
        var back = InternVlConfigJson.Read(json, "small");
        Assert.Equal((0.45, 0.35), (back.TextThreshold, back.ShapeThreshold));

        var path = Path.Combine(Path.GetTempPath(), $"vireo-thresholds-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, json.Replace("0.45", "1.5", StringComparison.Ordinal));
            var error = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path));
            Assert.Contains("text_threshold", error.Message, StringComparison.Ordinal);
            File.WriteAllText(path, json.Replace("0.35", "-0.2", StringComparison.Ordinal));
            error = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path));
            Assert.Contains("shape_threshold", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FlashModelHasThePublishedParameterNames()
    {
        using var model = new VireoModel(FlashTiny());
        var names = model.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
        Assert.Equal(new long[] { 1, 32 }, names["pooling_before_gating.query_token"]);
        Assert.Equal(new long[] { 96, 32 }, names["pooling_before_gating.attn1.in_proj_weight"]);
        Assert.Equal(new long[] { 32, 32 }, names["pooling_before_gating.attn4.out_proj.weight"]);
        Assert.Equal(new long[] { 32 }, names["pooling_before_gating.norm4.weight"]);
        Assert.Equal(new long[] { 128, 32 }, names["gating.block1.0.weight"]);
        Assert.Equal(new long[] { 32, 128 }, names["gating.block4.3.weight"]);
        Assert.Equal(new long[] { 32 }, names["gating.block2.5.bias"]);
        Assert.Equal(new long[] { 2, 32 }, names["gating.gate.1.weight"]);
        Assert.Equal(new long[] { 96, 96 }, names["mlp2.4.weight"]);
        Assert.Equal(new long[] { 48, 96 }, names["mlp2.7.weight"]);
        Assert.DoesNotContain(names.Keys, n => n.StartsWith("vir.", StringComparison.Ordinal));
        Assert.DoesNotContain(Qwen3LanguageModel.LmHeadName, names.Keys);
        using var _ = no_grad();
        using var features = randn(3, 1024, 32);
        using var probability = model.VisionSide.CompressProbability(features);
        Assert.Equal(new long[] { 3 }, probability.shape);
        Assert.All(probability.data<float>().ToArray(), p => Assert.InRange(p, 0f, 1f));
    }

    [Fact]
    public void NonFlashCheckpointHasNoSecondConnectorAndRoutesNothing()
    {
        var config = FlashTiny() with { RouterConfig = new RouterConfig { Kind = RouterKind.None } };
        random.manual_seed(3);
        using (var model = new VireoModel(config)) VireoCheckpoint.Save(model, _dir);
        Assert.DoesNotContain(VireoCheckpoint.TensorNames(Path.Combine(_dir, VireoCheckpoint.WeightsFile)), n => n.StartsWith("mlp2.", StringComparison.Ordinal));
        using var vision = VireoVision.Load(_dir, "cpu");
        Assert.False(vision.Tower.CanRoute);
        var frame = Imaging.RgbFrame.Create(900, 448);
        var encoded = vision.Encode([new FrameInput(frame, RoutingPolicy.Fixed(compressed: true))])[0];
        Assert.All(encoded.Tiles, t => Assert.False(t.Compressed));
        Assert.Equal(encoded.VisualTokensBefore, encoded.VisualTokensAfter);
    }

    [Theory]
    [InlineData(ScalarType.Float32, false)]
    [InlineData(ScalarType.BFloat16, true)]
    [InlineData(ScalarType.Float16, true)]
    public void NativeLayoutShardedAndHalfPrecisionLoadToTheSameModel(ScalarType storage, bool sharded)
    {
        random.manual_seed(5);
        using var model = new VireoModel(FlashTiny());
        var state = model.state_dict().ToDictionary(p => p.Key, p => p.Value.to(storage));
        var native = ToNative(state);
        Directory.CreateDirectory(_dir);
        model.Config.Save(Path.Combine(_dir, VireoCheckpoint.ConfigFile));
        if (sharded)
        {
            var vision = native.Where(p => !p.Key.StartsWith("model.language_model.", StringComparison.Ordinal)).ToDictionary();
            var language = native.Where(p => p.Key.StartsWith("model.language_model.", StringComparison.Ordinal)).ToDictionary();
            Safetensors.SaveStateDict(Path.Combine(_dir, "model-00001-of-00002.safetensors"), vision);
            Safetensors.SaveStateDict(Path.Combine(_dir, "model-00002-of-00002.safetensors"), language);
            var map = vision.Keys.ToDictionary(k => k, _ => "model-00001-of-00002.safetensors")
                .Concat(language.Keys.ToDictionary(k => k, _ => "model-00002-of-00002.safetensors")).ToDictionary();
            File.WriteAllText(Path.Combine(_dir, SafetensorsArchive.IndexFile), JsonSerializer.Serialize(new { metadata = new { }, weight_map = map }));
        }
        else
        {
            Safetensors.SaveStateDict(Path.Combine(_dir, VireoCheckpoint.WeightsFile), native);
        }

        using var loaded = VireoCheckpoint.Load(_dir, dtype: storage);
        var actual = loaded.state_dict();
        Assert.Equal(state.Keys.Order(), actual.Keys.Order());
        foreach (var (name, tensor) in state)
        {
            Assert.Equal(storage, actual[name].dtype);
            Assert.True(tensor.eq(actual[name]).all().item<bool>(), name);
        }
        using var vis = VireoCheckpoint.LoadVision(_dir);
        Assert.Equal(ScalarType.Float32, vis.state_dict()["mlp1.1.weight"].dtype);
    }

    [Fact]
    public void HalfPrecisionModelIsBuiltInItsDTypeAndTheDefaultRestored()
    {
        using var model = VireoCheckpoint.BuildIn(ScalarType.BFloat16, () => new VireoModel(FlashTiny()));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.Equal(ScalarType.Float32, get_default_dtype());
        using var after = zeros(2);
        Assert.Equal(ScalarType.Float32, after.dtype);
    }

    [Fact]
    public void NativeLayoutMismatchesAreNamedInTheModelsTerms()
    {
        random.manual_seed(6);
        using var model = new VireoModel(FlashTiny());
        var native = ToNative(model.state_dict().ToDictionary(p => p.Key, p => p.Value));
        native.Remove("model.gating.block3.dense_out.weight");
        native["model.vision_tower.encoder.layer.0.attention.k_proj.bias"] = zeros(5);
        native["model.something_else.weight"] = zeros(2);
        Directory.CreateDirectory(_dir);
        model.Config.Save(Path.Combine(_dir, VireoCheckpoint.ConfigFile));
        Safetensors.SaveStateDict(Path.Combine(_dir, VireoCheckpoint.WeightsFile), native);
        var error = Assert.Throws<CheckpointMismatchException>(() => VireoCheckpoint.Load(_dir).Dispose());
        Assert.Equal(["gating.block3.3.weight"], error.Missing);
        Assert.Equal(["model.something_else.weight"], error.Unexpected);
        Assert.Single(error.Misshaped);
        Assert.StartsWith("vision_model.encoder.layers.0.attn.qkv.bias (model [96], file [69])", error.Misshaped[0]);
    }

    /// <summary>transformers' native names for a model's state, the packed projections split as its converter splits them.</summary>
    internal static Dictionary<string, Tensor> ToNative(IReadOnlyDictionary<string, Tensor> state)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, tensor) in state)
        {
            var parts = name.Split('.');
            if (name.StartsWith("vision_model.encoder.layers.", StringComparison.Ordinal) && name.Contains(".attn.qkv.", StringComparison.Ordinal))
            {
                var chunks = tensor.chunk(3, 0);
                string[] which = ["q_proj", "k_proj", "v_proj"];
                for (var i = 0; i < 3; i++)
                    result[$"model.vision_tower.encoder.layer.{parts[3]}.attention.{which[i]}.{parts[^1]}"] = chunks[i].contiguous();
                continue;
            }
            if (name.StartsWith("pooling_before_gating.", StringComparison.Ordinal) && parts.Length > 2 && parts[2].StartsWith("in_proj_", StringComparison.Ordinal))
            {
                var chunks = tensor.chunk(3, 0);
                string[] which = ["query", "key", "value"];
                for (var i = 0; i < 3; i++)
                    result[$"model.pooling_before_gating.{parts[1]}.{which[i]}.{parts[2]["in_proj_".Length..]}"] = chunks[i].contiguous();
                continue;
            }
            var mapped = name switch
            {
                "vision_model.embeddings.class_embedding" => "model.vision_tower.embeddings.cls_token",
                "vision_model.embeddings.position_embedding" => "model.vision_tower.embeddings.position_embeddings",
                _ when name.StartsWith("vision_model.embeddings.patch_embedding.", StringComparison.Ordinal) =>
                    "model.vision_tower.embeddings.patch_embeddings.projection." + parts[^1],
                _ when name.StartsWith("vision_model.encoder.layers.", StringComparison.Ordinal) =>
                    $"model.vision_tower.encoder.layer.{parts[3]}." + string.Join('.', parts[4..]) switch
                    {
                        "ls1" => "lambda_1",
                        "ls2" => "lambda_2",
                        var tail when tail.StartsWith("attn.proj.", StringComparison.Ordinal) => "attention.projection_layer." + parts[^1],
                        var tail when tail.StartsWith("norm1.", StringComparison.Ordinal) => "layernorm_before." + parts[^1],
                        var tail when tail.StartsWith("norm2.", StringComparison.Ordinal) => "layernorm_after." + parts[^1],
                        var tail => tail,
                    },
                _ when name.StartsWith("mlp1.", StringComparison.Ordinal) =>
                    "model.multi_modal_projector." + parts[1] switch { "0" => "layer_norm", "1" => "linear_1", _ => "linear_2" } + "." + parts[^1],
                _ when name.StartsWith("mlp2.", StringComparison.Ordinal) =>
                    "model.mlp2." + parts[1] switch { "0" => "norm", "1" => "dense1", "4" => "dense2", _ => "dense3" } + "." + parts[^1],
                _ when name.StartsWith("gating.gate.", StringComparison.Ordinal) =>
                    "model.gating." + (parts[2] == "0" ? "gate_norm" : "gate_proj") + "." + parts[^1],
                _ when name.StartsWith("gating.block", StringComparison.Ordinal) =>
                    $"model.gating.{parts[1]}." + parts[2] switch { "0" => "dense_in", "3" => "dense_out", _ => "norm" } + "." + parts[^1],
                _ when name.StartsWith("pooling_before_gating.", StringComparison.Ordinal) => "model." + name,
                _ when name.StartsWith("language_model.model.", StringComparison.Ordinal) => "model.language_model." + name["language_model.model.".Length..],
                "language_model.lm_head.weight" => "lm_head.weight",
                _ => throw new InvalidOperationException(name),
            };
            result[mapped] = tensor;
        }
        return result;
    }
}

/// <summary>
/// Tests that build half-precision models change torch's process-wide default dtype while they build; they run apart
/// from every other test of this assembly, whose models and tensors expect float32.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchDefaultDtype
{
    public const string Name = "torch default dtype";
}
