namespace Vireo.Media;

/// <summary>How a decoded frame is fitted into the requested size.</summary>
public enum ResizeMode
{
    /// <summary>Scale to exactly Width x Height, ignoring the aspect ratio (what a 448x448 tile input wants).</summary>
    Stretch,
    /// <summary>Keep the aspect ratio and fit inside Width x Height; the output may be smaller on one side.</summary>
    Fit,
    /// <summary>Keep the aspect ratio, fit inside and pad with black to exactly Width x Height.</summary>
    Pad,
}

/// <summary>The output size of sampled frames.</summary>
/// <param name="Width">Requested width in pixels.</param>
/// <param name="Height">Requested height in pixels.</param>
/// <param name="Mode">How the frame is fitted.</param>
public readonly record struct FrameSize(int Width, int Height, ResizeMode Mode = ResizeMode.Stretch)
{
    /// <summary>A square of <paramref name="side"/> pixels, stretched (the model's tile input).</summary>
    public static FrameSize Square(int side) => new(side, side);

    /// <summary>The model's 448x448 tile.</summary>
    public static FrameSize Tile448 { get; } = Square(448);

    /// <summary>
    /// The size frames come out at for a source displayed at <paramref name="sourceWidth"/> x <paramref name="sourceHeight"/>.
    /// A fitted side is never below 9x8, the grid of the perceptual hash (<see cref="PerceptualHash"/>): a source far
    /// narrower or flatter than the requested box comes out stretched to that on its short side.
    /// </summary>
    public (int Width, int Height) OutputFor(int sourceWidth, int sourceHeight)
    {
        if (Mode != ResizeMode.Fit) return (Width, Height);
        var scale = Math.Min((double)Width / sourceWidth, (double)Height / sourceHeight);
        // Within the requested box all the same, since a request is at least 9x8 (smaller ones are refused).
        return (Math.Min(Width, Math.Max(PerceptualHash.GridWidth, (int)Math.Round(sourceWidth * scale))),
            Math.Min(Height, Math.Max(PerceptualHash.GridHeight, (int)Math.Round(sourceHeight * scale))));
    }
}
