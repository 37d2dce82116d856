using TorchSharp;
using TorchSharp.Modules;
using Vireo.Model.Modules;
using Vireo.Model.Training.Data;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Training;

/// <summary>A batch's dense labels, concatenated over its tiles in order, and which patches hold small glyphs.</summary>
public sealed record ReadingLabels(long[] Own, long[] Previous, long[] Scene, bool[] Small)
{
    /// <summary>Labels of each item's tiles, worked out in parallel and concatenated in order.</summary>
    public static ReadingLabels For<T>(IReadOnlyList<T> items, Func<T, ReadingTargets> labelsOf)
    {
        var targets = new ReadingTargets[items.Count];
        Parallel.For(0, items.Count, i => targets[i] = labelsOf(items[i]));
        return new ReadingLabels(
            targets.SelectMany(t => t.Own).ToArray(),
            targets.SelectMany(t => t.Previous).ToArray(),
            targets.SelectMany(t => t.Scene).ToArray(),
            targets.SelectMany(t => t.Small).ToArray());
    }
}

/// <summary>
/// The encoder's dense auxiliary objective (reading pretraining and stage 1): linear probes on the vision
/// encoder's patch features that name the character under each patch, the one before it, and the coloured
/// shape under it. Dense labels give every glyph patch a gradient from the first step, where the answer's few
/// text tokens alone leave the encoder blind to glyphs. Training-only: the head is not part of the model
/// checkpoint.
/// </summary>
public sealed class ReadingHead : Module<Tensor, (Tensor Own, Tensor Previous, Tensor Scene)>
{
    public const string File = "reading_head.safetensors";

    /// <summary>Weight of "no character" next to each character class, so rare glyph patches are not drowned out.</summary>
    public const float BackgroundWeight = 0.1f;

    /// <summary>
    /// Weight of a small text's glyph patch in the character probes' losses next to any other patch's, as if it were
    /// there this many times. A large glyph covers about 5-12 patches and a small one 1-2, so at 1 (the default, and
    /// every run before it) small text is a small part of the loss even when half the text is small.
    /// </summary>
    public double SmallGlyphWeight { get; set; } = 1;

    /// <summary>Weight of the token probe's loss next to the encoder probes' (when the head has one).</summary>
    public double TokenWeight { get; set; } = 1;

    private readonly Linear own;
    private readonly Linear previous;
    private readonly Linear scene;
    private readonly Linear? tokens;
    private readonly long[] _patchRows = [];

    /// <param name="visionWidth">Width of the encoder's patch features.</param>
    /// <param name="tokenPath">
    /// When given, the head also has a token probe: on each token of the 256-token path (width <c>Width</c>) it names
    /// the character under each patch the token carries, one linear probe per place (<c>Places</c>), so the connector
    /// gets the same dense labels as the encoder and is taught to keep each glyph it merges.
    /// </param>
    public ReadingHead(int visionWidth, (int Width, TokenPlaces Places)? tokenPath = null) : base("reading")
    {
        own = Linear(visionWidth, ReadingTargets.Classes);
        previous = Linear(visionWidth, ReadingTargets.Classes);
        scene = Linear(visionWidth, ReadingTargets.SceneClasses);
        if (tokenPath is { } path)
        {
            tokens = Linear(path.Width, path.Places.PerToken * ReadingTargets.Classes);
            _patchRows = path.Places.PatchRows();
        }
        RegisterComponents();
    }

    /// <summary>Whether the head has a token probe for the 256-token path.</summary>
    public bool ReadsTokens => tokens is not null;

    /// <summary>
    /// A head as <see cref="ReadingHead(int, ValueTuple{int, TokenPlaces}?)"/> builds it, with each probe that
    /// <paramref name="path"/> holds loaded from it. A file written without a token probe leaves this head's fresh;
    /// one written with it loads into a head without it as the encoder probes alone.
    /// </summary>
    /// <exception cref="InvalidDataException">The file lacks one of the encoder probes.</exception>
    public static ReadingHead Load(string path, int visionWidth, (int Width, TokenPlaces Places)? tokenPath = null)
    {
        var head = new ReadingHead(visionWidth, tokenPath);
        var names = SafetensorsArchive.TensorNames(path);
        foreach (var (name, probe) in head.named_children())
        {
            if (names.Any(n => n.StartsWith(name + ".", StringComparison.Ordinal))) VireoCheckpoint.LoadWeights(probe, path, name + ".");
            else if (probe != head.tokens) throw new InvalidDataException($"{path} holds no {name} probe.");
        }
        return head;
    }

    /// <param name="features">[tiles, patches, D] vision features.</param>
    /// <returns>Logits per patch, [tiles * patches, classes], of each probe.</returns>
    public override (Tensor Own, Tensor Previous, Tensor Scene) forward(Tensor features) =>
        (own.forward(features).flatten(0, 1), previous.forward(features).flatten(0, 1), scene.forward(features).flatten(0, 1));

    /// <summary>
    /// Loss of the probes, with the glyph and shape patches (class above 0) and how many of each are named right, and
    /// the same for the glyph patches of small text alone.
    /// </summary>
    /// <param name="features">[tiles, patches, D] the encoder's patch features.</param>
    /// <param name="labels">The batch's dense labels.</param>
    /// <param name="standardTokens">[tiles, tokens, H] the 256-token path's tokens of the same tiles, for the token probe.</param>
    public ReadingResult Loss(Tensor features, ReadingLabels labels, Tensor? standardTokens = null)
    {
        using var scope = NewDisposeScope();
        var device = features.device;
        var (ownLogits, previousLogits, sceneLogits) = forward(features);
        var ownTarget = TorchRuntime.Upload(tensor(labels.Own), device);
        var sceneTarget = TorchRuntime.Upload(tensor(labels.Scene), device);
        var small = TorchRuntime.Upload(tensor(labels.Small), device);
        var loss = CrossEntropy(ownLogits, ownTarget, ClassWeights(ReadingTargets.Classes, device), small, SmallGlyphWeight)
            .Plus(functional.cross_entropy(sceneLogits, sceneTarget, weight: ClassWeights(ReadingTargets.SceneClasses, device)));
        if (labels.Previous.Any(l => l != ReadingTargets.Ignore))
            loss = loss.Plus(CrossEntropy(previousLogits, TorchRuntime.Upload(tensor(labels.Previous), device), null, small, SmallGlyphWeight));
        var (glyphHits, glyphs) = Hits(ownLogits, ownTarget);
        var (shapeHits, shapes) = Hits(sceneLogits, sceneTarget);
        var (smallHits, smallGlyphs) = Hits(ownLogits, ownTarget, small);
        TokenReading? tokenReading = null;
        if (tokens is not null && standardTokens is not null)
        {
            var tokenLogits = TokenLogits(standardTokens);
            var tokenLoss = CrossEntropy(tokenLogits, ownTarget, ClassWeights(ReadingTargets.Classes, device), small, SmallGlyphWeight);
            loss = loss.Plus(tokenLoss * TokenWeight);
            var (tokenHits, _) = Hits(tokenLogits, ownTarget);
            var (tokenSmallHits, _) = Hits(tokenLogits, ownTarget, small);
            tokenReading = new TokenReading(tokenLoss, tokenHits, tokenSmallHits);
        }
        return new ReadingResult(loss, glyphHits, glyphs, shapeHits, shapes, smallHits, smallGlyphs, tokenReading).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The token probe's logits for each patch, [tiles * patches, classes] in patch order: each token's per-place
    /// outputs, put back where the pixel shuffle took their patches from.
    /// </summary>
    private Tensor TokenLogits(Tensor standardTokens)
    {
        var tiles = standardTokens.shape[0];
        var perPlace = tokens!.forward(standardTokens).reshape(tiles, -1, ReadingTargets.Classes);
        return perPlace.index_select(1, TorchRuntime.Upload(tensor(_patchRows), standardTokens.device)).flatten(0, 1);
    }

    /// <summary>
    /// Cross-entropy over the patches not labelled <see cref="ReadingTargets.Ignore"/>, with class weights if given, and
    /// each patch in <paramref name="small"/> counted <paramref name="smallWeight"/> times: the weighted mean PyTorch's
    /// cross_entropy takes, with the small patches' weights multiplied. At a weight of 1 it is PyTorch's own.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Tensor? classWeights, Tensor small, double smallWeight)
    {
        if (smallWeight == 1) return functional.cross_entropy(logits, target, weight: classWeights, ignore_index: ReadingTargets.Ignore);
        using var scope = NewDisposeScope();
        // Per patch: the class weight times its loss, 0 where ignored.
        var losses = functional.cross_entropy(logits, target, weight: classWeights, ignore_index: ReadingTargets.Ignore, reduction: nn.Reduction.None);
        var labelled = target != ReadingTargets.Ignore;
        var weights = classWeights is null ? labelled.to(logits.dtype) : classWeights.index_select(0, target.clamp_min(0)) * labelled;
        var factor = where(small, smallWeight, 1.0).to(logits.dtype);
        return ((losses * factor).sum() / (weights * factor).sum()).MoveToOuterDisposeScope();
    }

    private static Tensor ClassWeights(int classes, Device device)
    {
        var weights = ones(classes, device: device);
        weights[0] = BackgroundWeight;
        return weights;
    }

    /// <summary>
    /// Patches labelled with a class above 0 (among those in <paramref name="among"/>, if given), and how many of them
    /// are predicted as that class.
    /// </summary>
    private static (Tensor Hits, Tensor Labelled) Hits(Tensor logits, Tensor target, Tensor? among = null)
    {
        using var _ = no_grad();
        var labelled = target > 0;
        if (among is not null) labelled = labelled.logical_and(among);
        return ((logits.argmax(-1) == target).logical_and(labelled).sum(), labelled.sum());
    }
}

/// <summary>
/// The reading head's loss on a batch, with its glyph and shape patches and how many it names right, and its small
/// text's glyph patches and how many it names right (device scalars).
/// </summary>
public sealed record ReadingResult(Tensor Loss, Tensor GlyphHits, Tensor GlyphPatches, Tensor ShapeHits, Tensor ShapePatches, Tensor SmallGlyphHits, Tensor SmallGlyphPatches, TokenReading? Tokens = null)
{
    public ReadingResult MoveToOuterDisposeScope()
    {
        Tensor[] own = [Loss, GlyphHits, GlyphPatches, ShapeHits, ShapePatches, SmallGlyphHits, SmallGlyphPatches];
        foreach (var t in own.Concat(Tokens is { } k ? [k.Loss, k.GlyphHits, k.SmallGlyphHits] : [])) t.MoveToOuterDisposeScope();
        return this;
    }
}

/// <summary>
/// The token probe's part of a reading result: its loss (before <see cref="ReadingHead.TokenWeight"/>) and how many
/// of the batch's glyph patches, and of its small text's, it names right from the 256-token path's tokens.
/// </summary>
public sealed record TokenReading(Tensor Loss, Tensor GlyphHits, Tensor SmallGlyphHits);
