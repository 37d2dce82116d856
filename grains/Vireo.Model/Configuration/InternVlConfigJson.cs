using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Vireo.Model.Configuration;

/// <summary>
/// InternVL's config.json, in both forms published: the remote-code one (<c>InternVLChatModel</c>, with
/// <c>vision_config</c> and <c>llm_config</c>) and transformers' native one (<c>InternVLForConditionalGeneration</c>,
/// with <c>vision_config</c> and <c>text_config</c>). Flash checkpoints add <c>flash_mode</c> and the thresholds.
/// Vireo's own small models keep what InternVL has no field for (their router and char-level tokenizer) under <c>vireo</c>.
/// </summary>
public static class InternVlConfigJson
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Reads a config.json, refusing the features this implementation does not have.</summary>
    /// <param name="json">The file's text.</param>
    /// <param name="source">Where it came from, for messages.</param>
    public static ModelConfig Read(string json, string source)
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source} is not a JSON object.");
        var vision = root["vision_config"] as JsonObject ?? throw new InvalidDataException($"{source} has no vision_config.");
        var native = root["text_config"] is JsonObject;
        var llm = (native ? root["text_config"] : root["llm_config"]) as JsonObject
                  ?? throw new InvalidDataException($"{source} has neither llm_config nor text_config.");
        var vireo = root["vireo"] as JsonObject;

        var llmArchitecture = (llm["architectures"] as JsonArray)?.FirstOrDefault()?.GetValue<string>();
        var llmType = Str(llm, "model_type");
        if (llmArchitecture is not null && llmArchitecture != "Qwen3ForCausalLM")
            throw new InvalidDataException($"{source}: the language model is {llmArchitecture}; only Qwen3ForCausalLM is implemented.");
        if (llmType is not null && llmType != "qwen3")
            throw new InvalidDataException($"{source}: the language model type is {llmType}; only qwen3 is implemented.");
        if (Bool(llm, "attention_bias") == true) throw new InvalidDataException($"{source}: attention_bias in the language model is not implemented.");
        if (Str(root, "ps_version") is { } ps && ps != "v2") throw new InvalidDataException($"{source}: ps_version {ps} is not implemented (v2 is).");
        if (Int(root, "select_layer") is { } layer && layer != -1) throw new InvalidDataException($"{source}: select_layer {layer} is not implemented (-1 is).");
        if (Int(root, "vision_feature_layer") is { } featureLayer && featureLayer != -1)
            throw new InvalidDataException($"{source}: vision_feature_layer {featureLayer} is not implemented (-1 is).");
        if ((Bool(vision, "qk_normalization") ?? Bool(vision, "use_qk_norm")) == true)
            throw new InvalidDataException($"{source}: query/key normalisation in the vision encoder is not implemented.");
        if (Str(vision, "norm_type") is { } norm && norm != "layer_norm") throw new InvalidDataException($"{source}: vision norm_type {norm} is not implemented.");
        if (Str(vision, "hidden_act") is { } act && act != "gelu") throw new InvalidDataException($"{source}: vision hidden_act {act} is not implemented.");

        var patchSize = FirstInt(vision["patch_size"]) ?? 14;
        var imageSize = Int(root, "force_image_size") ?? FirstInt(vision["image_size"]) ?? 448;
        var ratio = Double(root, "downsample_ratio") ?? 0.5;
        var flash = Bool(root, "flash_mode") == true || root.ContainsKey("flash_absolute_threshold");
        var routerNode = vireo?["router"] as JsonObject;
        var kind = routerNode is not null ? RouterKind.Vireo : flash ? RouterKind.Flash : RouterKind.None;
        var router = kind switch
        {
            RouterKind.Vireo => new RouterConfig
            {
                Kind = RouterKind.Vireo,
                NumGatingBlocks = Int(routerNode!, "num_gating_blocks") ?? 2,
                Threshold = Double(routerNode!, "threshold") ?? 0.5,
            },
            RouterKind.Flash => new RouterConfig { Kind = RouterKind.Flash, Threshold = Double(root, "flash_absolute_threshold") ?? 0.5 },
            _ => new RouterConfig { Kind = RouterKind.None },
        };
        var dynamic = Bool(root, "dynamic_image_size") ?? true;
        var defaults = new ModelConfig { VisionConfig = new VisionConfig(), LlmConfig = new LanguageConfig() };
        var hidden = Int(llm, "hidden_size") ?? throw new InvalidDataException($"{source}: llm hidden_size is missing.");
        var heads = Int(llm, "num_attention_heads") ?? throw new InvalidDataException($"{source}: llm num_attention_heads is missing.");
        return new ModelConfig
        {
            ImageSize = imageSize,
            PatchSize = patchSize,
            DownsampleRatio = ratio,
            CompressedDownsampleRatio = Double(vireo, "compressed_downsample_ratio") ?? ratio * ratio,
            MinDynamicPatch = dynamic ? Int(root, "min_dynamic_patch") ?? 1 : 1,
            MaxDynamicPatch = dynamic ? Int(root, "max_dynamic_patch") ?? 12 : 1,
            UseThumbnail = Bool(root, "use_thumbnail") ?? true,
            PixelMean = Floats(vireo?["pixel_mean"]) ?? defaults.PixelMean,
            PixelStd = Floats(vireo?["pixel_std"]) ?? defaults.PixelStd,
            Template = Str(root, "template") ?? (native ? "internvl2_5" : ModelConfig.SmallTemplate),
            TokenizerCharacters = Str(vireo, "tokenizer_characters") ?? defaults.TokenizerCharacters,
            TextThreshold = Double(vireo, "text_threshold") ?? 0,
            ShapeThreshold = Double(vireo, "shape_threshold") ?? 0,
            VisionConfig = new VisionConfig
            {
                HiddenSize = Int(vision, "hidden_size") ?? throw new InvalidDataException($"{source}: vision hidden_size is missing."),
                NumHiddenLayers = Int(vision, "num_hidden_layers") ?? throw new InvalidDataException($"{source}: vision num_hidden_layers is missing."),
                NumAttentionHeads = Int(vision, "num_attention_heads") ?? throw new InvalidDataException($"{source}: vision num_attention_heads is missing."),
                IntermediateSize = Int(vision, "intermediate_size") ?? throw new InvalidDataException($"{source}: vision intermediate_size is missing."),
                LayerNormEps = Double(vision, "layer_norm_eps") ?? 1e-6,
                QkvBias = Bool(vision, "qkv_bias") ?? Bool(vision, "attention_bias") ?? true,
                InitializerFactor = Double(vision, "initializer_factor") ?? Double(vision, "layer_scale_init_value") ?? 0.1,
                ConvStemChannels = Int(vireo, "conv_stem_channels") ?? 0,
            },
            LlmConfig = new LanguageConfig
            {
                VocabSize = Int(llm, "vocab_size") ?? throw new InvalidDataException($"{source}: llm vocab_size is missing."),
                HiddenSize = hidden,
                IntermediateSize = Int(llm, "intermediate_size") ?? throw new InvalidDataException($"{source}: llm intermediate_size is missing."),
                NumHiddenLayers = Int(llm, "num_hidden_layers") ?? throw new InvalidDataException($"{source}: llm num_hidden_layers is missing."),
                NumAttentionHeads = heads,
                NumKeyValueHeads = Int(llm, "num_key_value_heads") ?? heads,
                HeadDim = Int(llm, "head_dim") ?? hidden / heads,
                RmsNormEps = Double(llm, "rms_norm_eps") ?? 1e-6,
                RopeTheta = Double(llm, "rope_theta") ?? Double(llm["rope_parameters"] as JsonObject, "rope_theta") ?? 1_000_000,
                MaxPositionEmbeddings = Int(llm, "max_position_embeddings") ?? 40960,
                TieWordEmbeddings = Bool(llm, "tie_word_embeddings") ?? Bool(root, "tie_word_embeddings") ?? false,
            },
            RouterConfig = router,
            TorchDType = Str(root, "torch_dtype") ?? Str(llm, "torch_dtype") ?? Str(root, "dtype") ?? Str(llm, "dtype"),
        };
    }

    /// <summary>The config in InternVL's remote-code form.</summary>
    public static string Write(ModelConfig config)
    {
        var v = config.VisionConfig;
        var l = config.LlmConfig;
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray("InternVLChatModel"),
            ["model_type"] = "internvl_chat",
            ["downsample_ratio"] = config.DownsampleRatio,
            ["force_image_size"] = config.ImageSize,
            ["dynamic_image_size"] = true,
            ["min_dynamic_patch"] = config.MinDynamicPatch,
            ["max_dynamic_patch"] = config.MaxDynamicPatch,
            ["use_thumbnail"] = config.UseThumbnail,
            ["ps_version"] = "v2",
            ["select_layer"] = -1,
            ["template"] = config.Template,
        };
        if (config.TorchDType is { } dtype) root["torch_dtype"] = dtype;
        if (config.RouterConfig.Kind == RouterKind.Flash)
        {
            root["flash_mode"] = true;
            root["flash_absolute_threshold"] = config.RouterConfig.Threshold;
        }
        root["vision_config"] = new JsonObject
        {
            ["architectures"] = new JsonArray("InternVisionModel"),
            ["model_type"] = "intern_vit_6b",
            ["hidden_size"] = v.HiddenSize,
            ["num_hidden_layers"] = v.NumHiddenLayers,
            ["num_attention_heads"] = v.NumAttentionHeads,
            ["intermediate_size"] = v.IntermediateSize,
            ["layer_norm_eps"] = v.LayerNormEps,
            ["qkv_bias"] = v.QkvBias,
            ["qk_normalization"] = false,
            ["norm_type"] = "layer_norm",
            ["hidden_act"] = "gelu",
            ["image_size"] = config.ImageSize,
            ["patch_size"] = config.PatchSize,
            ["initializer_factor"] = v.InitializerFactor,
        };
        root["llm_config"] = new JsonObject
        {
            ["architectures"] = new JsonArray("Qwen3ForCausalLM"),
            ["model_type"] = "qwen3",
            ["vocab_size"] = l.VocabSize,
            ["hidden_size"] = l.HiddenSize,
            ["intermediate_size"] = l.IntermediateSize,
            ["num_hidden_layers"] = l.NumHiddenLayers,
            ["num_attention_heads"] = l.NumAttentionHeads,
            ["num_key_value_heads"] = l.NumKeyValueHeads,
            ["head_dim"] = l.HeadDim,
            ["rms_norm_eps"] = l.RmsNormEps,
            ["rope_theta"] = l.RopeTheta,
            ["max_position_embeddings"] = l.MaxPositionEmbeddings,
            ["tie_word_embeddings"] = l.TieWordEmbeddings,
            ["attention_bias"] = false,
            ["hidden_act"] = "silu",
        };
        if (config.RouterConfig.Kind == RouterKind.Vireo || config.Template == ModelConfig.SmallTemplate || v.ConvStemChannels > 0)
        {
            var vireo = new JsonObject
            {
                ["compressed_downsample_ratio"] = config.CompressedDownsampleRatio,
                ["pixel_mean"] = new JsonArray(config.PixelMean.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()),
                ["pixel_std"] = new JsonArray(config.PixelStd.Select(x => (JsonNode)JsonValue.Create(x)).ToArray()),
                ["tokenizer_characters"] = config.TokenizerCharacters,
            };
            if (config.TextThreshold > 0) vireo["text_threshold"] = config.TextThreshold;
            if (config.ShapeThreshold > 0) vireo["shape_threshold"] = config.ShapeThreshold;
            if (v.ConvStemChannels > 0) vireo["conv_stem_channels"] = v.ConvStemChannels;
            if (config.RouterConfig.Kind == RouterKind.Vireo)
                vireo["router"] = new JsonObject
                {
                    ["num_gating_blocks"] = config.RouterConfig.NumGatingBlocks,
                    ["threshold"] = config.RouterConfig.Threshold,
                };
            root["vireo"] = vireo;
        }
        return root.ToJsonString(Indented);
    }

    private static string? Str(JsonObject? o, string key) => o?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static bool? Bool(JsonObject? o, string key) => o?[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;

    private static double? Double(JsonObject? o, string key) => o?[key] is JsonValue v ? Number(v) : null;

    private static int? Int(JsonObject? o, string key) => Double(o, key) is { } d ? checked((int)d) : null;

    private static int? FirstInt(JsonNode? node) => node switch
    {
        JsonArray a when a.Count > 0 && a[0] is JsonValue v => Number(v) is { } d ? (int)d : null,
        JsonValue v => Number(v) is { } d ? (int)d : null,
        _ => null,
    };

    private static float[]? Floats(JsonNode? node) =>
        node is JsonArray a ? a.Select(x => (float)(x is JsonValue v ? Number(v) ?? 0 : 0)).ToArray() : null;

    private static double? Number(JsonValue v)
    {
        if (v.TryGetValue<double>(out var d)) return d;
        if (v.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.Number) return e.GetDouble();
        if (v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var p)) return p;
        return null;
    }
}
