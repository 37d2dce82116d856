using Vireo.Cli;

return await VireoCommandLine.Build().Parse(args).InvokeAsync();
