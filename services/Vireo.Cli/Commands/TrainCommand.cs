using System.CommandLine;
using TorchSharp;
using Vireo.Model.Configuration;
using Vireo.Model.Modules;
using Vireo.Model.Training;
using Vireo.Model.Training.Data;

namespace Vireo.Cli.Commands;

/// <summary>`vireo train`: ViCO's three stages on synthetic and real-font frames, seeded and resumable.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "Output directory (model.safetensors, config.json, train.log, and resume/: weights, optimizer state and position). Rerunning resumes.", Required = true };
        var device = new Option<string>("--device") { Description = "auto | cpu | cuda", DefaultValueFactory = _ => "auto" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var preset = new Option<string>("--preset") { Description = "Model size for a fresh run: small (shipped) | medium (192-wide encoder) | tiny", DefaultValueFactory = _ => "small" };
        preset.AcceptOnlyFromAmong("small", "medium", "tiny");
        var config = new Option<string?>("--config") { Description = "config.json for a fresh run (overrides --preset)." };
        var stage1 = new Option<int>("--stage1-steps") { DefaultValueFactory = _ => 3000 };
        var stage2 = new Option<int>("--stage2-steps") { DefaultValueFactory = _ => 800 };
        var stage3 = new Option<int>("--stage3-steps") { DefaultValueFactory = _ => 400 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-3 };
        var percentile = new Option<double>("--router-percentile") { Description = "Stage 3: keep-256 when r = L64/L256 is above this percentile of recent r.", DefaultValueFactory = _ => 0.75 };
        var minutes = new Option<double?>("--time-limit-minutes") { Description = "Save and stop after this long; rerun to resume." };
        var stopAfter = new Option<int?>("--stop-after-steps") { Description = "Save and stop after this many steps (any stage); rerun to resume." };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => 25 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 250 };
        var textProbability = Fraction("--text-probability", "Chance a training frame carries text.", 0.6);
        var smallText = Fraction("--small-text-fraction", "Share of text-carrying frames (after the curriculum) whose text is small.", 0.5);
        var curriculum = new Option<int>("--curriculum-until-step") { Description = "Stage-1 steps below this use single-tile frames with mostly large text.", DefaultValueFactory = _ => 0 };
        var boost = new Option<int>("--curriculum-scale-boost") { Description = "Extra font scale (0..N) for large text during the curriculum.", DefaultValueFactory = _ => 0 };
        var continueStage1 = new Option<bool>("--continue-stage1") { Description = "If stage 1 is finished and --stage1-steps asks for more, continue it from the frozen stage-1 weights, then redo stages 2 and 3." };
        var textOnly = new Option<bool>("--curriculum-text-only") { Description = "Curriculum frames carry only text (no shapes), mostly large." };
        var readingWeight = new Option<double>("--reading-weight") { Description = "Stage 1: weight of the dense per-patch reading loss on the vision encoder (0 = answers only).", DefaultValueFactory = _ => 0.0 };
        var sineCosine = new Option<bool>("--sincos-positions") { Description = "Fresh run: start the vision position embeddings as 2D sine-cosine codes." };
        var headWarmup = new Option<int>("--reading-head-warmup") { Description = "Stage 1: for this many first steps the reading loss trains only its head, not the encoder (for fine-tunes, whose head starts random).", DefaultValueFactory = _ => 0 };
        var readingSteps = new Option<int>("--reading-steps") { Description = "Reading pretraining steps (vision encoder on sign-covered pages) before stage 1.", DefaultValueFactory = _ => 0 };
        var initVision = new Option<string?>("--init-vision") { Description = "Fresh run: take the vision encoder from this checkpoint directory." };
        var initFrom = new Option<string?>("--init-from") { Description = "Fresh run: take every weight (and the config) from this model directory, e.g. to fine-tune the shipped model." };
        var addVision = new Option<int>("--add-vision-layers") { Description = "With --init-from: append this many layers to the vision encoder, each starting as the identity.", DefaultValueFactory = _ => 0 };
        var addLanguage = new Option<int>("--add-language-layers") { Description = "With --init-from: append this many layers to the language model, each starting as the identity.", DefaultValueFactory = _ => 0 };
        var addStem = new Option<int>("--add-conv-stem") { Description = "With --init-from: add a convolutional stem of this many channels (1-128) to the vision encoder's patch embeddings, starting at zero.", DefaultValueFactory = _ => 0 };
        addStem.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 128) result.AddError("--add-conv-stem must be between 0 and 128.");
        });
        foreach (var layers in new[] { addVision, addLanguage })
            layers.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<int>() is < 0 or > 24) result.AddError($"{layers.Name} must be between 0 and 24.");
            });
        var smallGlyphWeight = new Option<double>("--small-glyph-weight") { Description = "Count each glyph patch of small text this many times in the reading loss (a large glyph covers 5-12 patches, a small one 1-2).", DefaultValueFactory = _ => 1.0 };
        smallGlyphWeight.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is not (>= 1 and <= 100)) result.AddError("--small-glyph-weight must be between 1 and 100.");
        });
        var tokenReading = new Option<double>("--token-reading-weight") { Description = "Stage 1: also name each patch's character from the 256-token path's tokens, one probe per place in a token, with this weight next to the encoder's reading loss, so the connector keeps the glyphs it merges. 0 (the default) leaves it out; needs --reading-weight.", DefaultValueFactory = _ => 0.0 };
        tokenReading.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is not (>= 0 and <= 100)) result.AddError("--token-reading-weight must be between 0 and 100.");
        });
        var smallTextAnswer = new Option<double>("--small-text-answer-weight") { Description = "Stage 1: count each character of small text this many times in the answer loss (every other response token counts once), so the language model learns to read what the 256-token path keeps.", DefaultValueFactory = _ => 1.0 };
        smallTextAnswer.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is not (>= 1 and <= 100)) result.AddError("--small-text-answer-weight must be between 1 and 100.");
        });
        var tokenWarmup = new Option<int>("--token-reading-warmup") { Description = "Stage 1: for this many first steps the token probe learns on the tokens alone, its loss kept from the connector and the encoder (a new probe is random).", DefaultValueFactory = _ => 150 };
        var videoSizes = new Option<bool>("--video-sizes") { Description = "Also draw real frames at the sizes of real video (1080p landscape and portrait besides the training sizes)." };
        var tileScale = new Option<bool>("--draw-at-tile-scale") { Description = "Draw real frames larger than their tile grid (1080p, 720p) at the grid's scale: the same tiles from a fifth of the pixels, so the host draws faster. Keep one setting for a whole run." };
        var varyGlyphs = new Option<bool>("--vary-glyphs") { Description = FormattableString.Invariant($"Draw real frames' labels narrower or wider ({RealFrames.GlyphVariation.MinScaleX}-{RealFrames.GlyphVariation.MaxScaleX}), slanted up to {RealFrames.GlyphVariation.MaxSkew} either way, and one in {RealFrames.GlyphVariation.EmboldenOneIn} in synthetic bold: more letterforms than the installed families. Keep one setting for a whole run.") };
        var h264 = Fraction("--h264-fraction", FormattableString.Invariant($"Share of real frames coded as an H.264 intra picture (QP {RealFrames.H264MinQp}-{RealFrames.H264MaxQp}) instead of JPEG. Keep one setting for a whole run."), 0.0);
        var realFraction = Fraction("--real-fraction", "Share of stage 1-3 frames drawn with real fonts over photographs and textures (fonts and photographs from VIREO_FONT_DIRS / VIREO_PHOTO_DIRS, else the system's).", 0.0);
        var tilesOnDevice = new Option<bool>("--tiles-on-device") { Description = "Tile frames on the GPU from their 8-bit pixels instead of on the host (less work for the CPU; tiles agree to float rounding). Keep one setting for a whole run." };
        var bf16Attention = new Option<bool>("--bf16-attention") { Description = "Compute the vision encoder's attention in bfloat16 (weights and everything else stay float32): on a GPU the flash kernel runs on tensor cores." };
        var echo = new Option<int>("--data-echo") { Description = "Train on each drawn frame in this many consecutive batches (outside the curriculum), drawing 1/N of the frames a step: for when the GPU waits for data. Must divide the batch size.", DefaultValueFactory = _ => 1 };
        echo.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 8) result.AddError("--data-echo must be between 1 and 8.");
        });
        var ship = new Option<string?>("--ship") { Description = "When training finishes, also write an fp16 copy (model.safetensors + config.json) here." };
        var snapshot = new Option<string?>("--snapshot") { Description = "Whenever the run stops, finished or not, also write an fp16 copy of the weights it has reached (model.safetensors + config.json) and its reading probe here, to go on from elsewhere with --init-from." };

        var command = new Command("train", "Train the vision-language model with its visual resolution router (ViCO stages 1-3).")
        {
            outDir, device, seed, preset, config, stage1, stage2, stage3, batch, lr, percentile, minutes, stopAfter, logEvery, checkpointEvery, ship, snapshot, textProbability, smallText, curriculum, boost, continueStage1, textOnly, readingWeight, smallGlyphWeight, smallTextAnswer, tokenReading, tokenWarmup, headWarmup, readingSteps, initVision, sineCosine, initFrom, addVision, addLanguage, addStem, realFraction, videoSizes, tileScale, varyGlyphs, h264, tilesOnDevice, bf16Attention, echo,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetValue(addVision) > 0 || result.GetValue(addLanguage) > 0 || result.GetValue(addStem) > 0) && result.GetValue(initFrom) is null)
                result.AddError("--add-vision-layers, --add-language-layers and --add-conv-stem grow a trained model: give it with --init-from.");
            if (result.GetValue(tokenReading) > 0 && result.GetValue(readingWeight) <= 0)
                result.AddError("--token-reading-weight is part of the reading loss: give --reading-weight too.");
            if (result.GetValue(batch) % Math.Max(1, result.GetValue(echo)) != 0)
                result.AddError("--data-echo must divide --batch-size: each batch takes batch size / echo fresh frames from each of its steps.");
        });
        command.SetAction(parse =>
        {
            var output = parse.GetValue(outDir)!;
            Directory.CreateDirectory(output);
            var logPath = Path.Combine(output, "train.log");
            void Log(string line)
            {
                var stamped = $"{DateTime.UtcNow:HH:mm:ss} {line}";
                Console.WriteLine(stamped);
                File.AppendAllText(logPath, stamped + Environment.NewLine);
            }
            var configPath = parse.GetValue(config);
            var model = configPath is not null ? ModelConfig.Load(configPath)
                : parse.GetValue(preset) switch
                {
                    "tiny" => ModelConfig.Tiny(),
                    "medium" => ModelConfig.Medium(),
                    _ => ModelConfig.Small(),
                };
            var options = new TrainingOptions
            {
                OutputDirectory = output,
                Device = parse.GetValue(device)!,
                Seed = parse.GetValue(seed),
                Stage1Steps = parse.GetValue(stage1),
                Stage2Steps = parse.GetValue(stage2),
                Stage3Steps = parse.GetValue(stage3),
                BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr),
                RouterLearningRate = parse.GetValue(lr),
                RouterPercentile = parse.GetValue(percentile),
                TimeLimit = parse.GetValue(minutes) is { } m ? TimeSpan.FromMinutes(m) : null,
                StopAfterSteps = parse.GetValue(stopAfter),
                LogEvery = parse.GetValue(logEvery),
                CheckpointEvery = parse.GetValue(checkpointEvery),
                Model = model,
                TextProbability = parse.GetValue(textProbability),
                SmallTextFraction = parse.GetValue(smallText),
                CurriculumUntilStep = parse.GetValue(curriculum),
                CurriculumScaleBoost = parse.GetValue(boost),
                ContinueStage1 = parse.GetValue(continueStage1),
                CurriculumTextOnly = parse.GetValue(textOnly),
                ReadingWeight = parse.GetValue(readingWeight),
                SmallGlyphWeight = parse.GetValue(smallGlyphWeight),
                SmallTextAnswerWeight = parse.GetValue(smallTextAnswer),
                TokenReadingWeight = parse.GetValue(tokenReading),
                TokenReadingWarmup = parse.GetValue(tokenWarmup),
                ReadingSteps = parse.GetValue(readingSteps),
                ReadingHeadWarmup = parse.GetValue(headWarmup),
                InitVisionFrom = parse.GetValue(initVision),
                SineCosinePositions = parse.GetValue(sineCosine),
                InitFrom = parse.GetValue(initFrom),
                AddVisionLayers = parse.GetValue(addVision),
                AddConvStem = parse.GetValue(addStem),
                AddLanguageLayers = parse.GetValue(addLanguage),
                VideoSizes = parse.GetValue(videoSizes),
                DrawAtTileScale = parse.GetValue(tileScale),
                VaryGlyphs = parse.GetValue(varyGlyphs),
                H264Fraction = parse.GetValue(h264),
                RealFraction = parse.GetValue(realFraction),
                TilesOnDevice = parse.GetValue(tilesOnDevice),
                Bf16Attention = parse.GetValue(bf16Attention),
                DataEcho = parse.GetValue(echo),
            };
            Log($"vireo {string.Join(" ", Environment.GetCommandLineArgs().Skip(1))}");
            var state = new VireoTrainer(options, Log).Run();
            if (parse.GetValue(snapshot) is { } snapshotDir)
            {
                var probe = VireoTrainer.WriteSnapshot(output, snapshotDir) ? " and its reading probe" : "";
                Log($"fp16 snapshot of stage {state.Stage} step {state.Step}{probe} written to {snapshotDir}");
            }
            if (state.Stage < 4) return 0;
            if (parse.GetValue(ship) is { } shipDir)
            {
                using var trained = VireoCheckpoint.Load(output);
                VireoCheckpoint.Save(trained, shipDir, torch.ScalarType.Float16);
                Log($"shipped fp16 checkpoint to {shipDir}");
            }
            return 0;
        });
        return command;
    }

    private static Option<double> Fraction(string name, string description, double fallback)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => fallback };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is < 0 or > 1) result.AddError($"{name} must be between 0 and 1.");
        });
        return option;
    }
}
