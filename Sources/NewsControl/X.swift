public enum NewsControlPlaceholderX {}
