using System.CommandLine;
using Vireo.Model.Training;

namespace Vireo.Cli.Commands;

/// <summary>
/// The options of `vireo bench data` and `vireo bench train` that say which training batches to draw, named and meant
/// as `vireo train` names them.
/// </summary>
/// <param name="smallTextDefault">Default share of text-carrying frames whose text is small.</param>
internal sealed class TrainingMixOptions(double smallTextDefault)
{
    private readonly Option<int> _batch = new("--batch-size") { DefaultValueFactory = _ => 64 };
    private readonly Option<double> _real = new("--real-fraction") { DefaultValueFactory = _ => 0.7 };
    private readonly Option<double> _smallText = new("--small-text-fraction") { Description = "Share of text-carrying frames whose text is small.", DefaultValueFactory = _ => smallTextDefault };
    private readonly Option<bool> _videoSizes = new("--video-sizes") { Description = "Also draw real frames at 1080p landscape and portrait, as `vireo train --video-sizes` does." };
    private readonly Option<bool> _tileScale = new("--draw-at-tile-scale") { Description = "Draw real frames larger than their tile grid at the grid's scale, as `vireo train --draw-at-tile-scale` does." };
    private readonly Option<bool> _varyGlyphs = new("--vary-glyphs") { Description = "Vary the labels' letterforms, as `vireo train --vary-glyphs` does." };
    private readonly Option<double> _h264 = new("--h264-fraction") { Description = "Share of real frames coded as H.264 intra pictures, as `vireo train --h264-fraction` does." };
    private readonly Option<bool> _tilesOnDevice = new("--tiles-on-device") { Description = "Leave the tiling to the GPU, as `vireo train --tiles-on-device` does: the host only stages the 8-bit frames." };
    private readonly Option<int> _echo = new("--data-echo") { Description = "Each drawn frame in this many consecutive batches, as `vireo train --data-echo` does.", DefaultValueFactory = _ => 1 };

    public IEnumerable<Option> All => [_batch, _real, _smallText, _videoSizes, _tileScale, _varyGlyphs, _h264, _tilesOnDevice, _echo];

    /// <summary>Training options that draw the batches asked for; output goes nowhere.</summary>
    public TrainingOptions Read(ParseResult parse) => new()
    {
        OutputDirectory = Path.GetTempPath(),
        BatchSize = Math.Max(1, parse.GetValue(_batch)),
        RealFraction = parse.GetValue(_real),
        TextProbability = 0.8,
        SmallTextFraction = parse.GetValue(_smallText),
        ReadingWeight = 1,
        TilesOnDevice = parse.GetValue(_tilesOnDevice),
        VideoSizes = parse.GetValue(_videoSizes),
        DrawAtTileScale = parse.GetValue(_tileScale),
        VaryGlyphs = parse.GetValue(_varyGlyphs),
        H264Fraction = parse.GetValue(_h264),
        DataEcho = Math.Max(1, parse.GetValue(_echo)),
    };
}
