using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Vireo.Cli.Commands;

/// <summary>
/// Services for a CLI command: configuration from environment variables (the local stack's .state/stack.env sets
/// them, e.g. ConnectionStrings__Postgres), warnings and errors on stderr.
/// </summary>
internal static class CliServices
{
    public static ServiceProvider Build(Action<IServiceCollection> add)
    {
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddEnvironmentVariables().Build())
            .AddLogging(b => b.AddSimpleConsole(o => o.SingleLine = true)
                .AddFilter(l => l >= LogLevel.Warning)
                .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        add(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    /// <summary>The checkout's state folder (VIREO_STATE, else ./.state).</summary>
    public static string StateFolder(params string[] parts)
    {
        var root = Environment.GetEnvironmentVariable("VIREO_STATE") is { Length: > 0 } state ? state : Path.GetFullPath(".state");
        var folder = Path.Combine([root, .. parts]);
        Directory.CreateDirectory(folder);
        return folder;
    }
}
