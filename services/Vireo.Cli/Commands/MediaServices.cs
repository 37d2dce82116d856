using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Vireo.Media;

namespace Vireo.Cli.Commands;

/// <summary>The media stage as the CLI uses it: options from environment variables (Media__MaxWidth=...), warnings on stderr.</summary>
internal static class MediaServices
{
    public static ServiceProvider Build() =>
        new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddEnvironmentVariables().Build())
            .AddLogging(b => b.AddSimpleConsole(o => o.SingleLine = true)
                .AddFilter(l => l >= LogLevel.Warning)
                .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace))
            .AddVireoMedia()
            .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

    /// <summary>A folder for generated clips that survives between runs.</summary>
    public static string StateFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "vireo-media");
        Directory.CreateDirectory(folder);
        return folder;
    }
}
