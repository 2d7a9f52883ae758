"""Agent routing: send each question to the cheapest model that will get it right (RouteLLM's
trained router, a confidence cascade, and a think/no-think switch inside one LRM)."""
